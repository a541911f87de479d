// escapeText: the one function through which every string from a receipt, a genesis or a file
// name passes before it is shown (as text) on the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeText } from '../src/escape.js';

test('plain text, Chinese and emoji are shown as they are', () => {
  for (const s of ['item 1', 'application/pdf', '合同 2026-01-01 签署.pdf', '存证编号', 'naïve café', '📄 file', 'a b\u3000c']) {
    assert.equal(escapeText(s), s);
  }
});

test('control characters are escaped (a terminal-injection label shows as text)', () => {
  assert.equal(escapeText('\x1b[2J\x1b[32mVALID'), '\\u{1b}[2J\\u{1b}[32mVALID');
  assert.equal(escapeText('a\nb\rc\td\0e\x7f\x85'), 'a\\u{a}b\\u{d}c\\u{9}d\\u{0}e\\u{7f}\\u{85}');
});

test('bidirectional overrides and isolates are escaped', () => {
  // "invoice_\u202Efdp.exe" would display as "invoice_exe.pdf".
  assert.equal(escapeText('invoice_\u202efdp.exe'), 'invoice_\\u{202e}fdp.exe');
  for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c]) {
    assert.equal(escapeText(String.fromCodePoint(c)), `\\u{${c.toString(16)}}`);
  }
});

test('zero-width, invisible and separator characters are escaped', () => {
  for (const c of [0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x00ad, 0x2028, 0x2029, 0x034f, 0x115f, 0x3164, 0xfe0f, 0xe0041, 0xe000]) {
    assert.equal(escapeText(`a${String.fromCodePoint(c)}b`), `a\\u{${c.toString(16)}}b`, c.toString(16));
  }
});

test('lone surrogates are escaped', () => {
  assert.equal(escapeText('x\ud800y'), 'x\\u{d800}y');
});

test('a backslash is doubled, so escapes cannot be faked', () => {
  assert.equal(escapeText('\\u{202e}'), '\\\\u{202e}');
  assert.notEqual(escapeText('\\u{202e}'), escapeText('\u202e'));
});

test('HTML is not interpreted by escapeText (the page inserts text nodes only)', () => {
  assert.equal(escapeText('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
});
