// A strict JSON reader with the rules of docs/receipt-format.md sections 7.3 and 11 (those of
// serde_json, which the Rust verifier uses):
// - the input is UTF-8 without a byte-order mark; nothing but whitespace may follow the value;
// - no NaN/Infinity, no leading zeros, no raw control characters in strings, and escaped lone
//   surrogates (`"\ud800"`) are rejected;
// - numbers are kept as their text (class JNum), so that a u64 is never rounded and `1.0`, `1e0`
//   and `-0` can be told apart from integers;
// - objects are plain null-prototype objects; with `rejectDuplicates` a repeated key is an error,
//   otherwise the last occurrence wins;
// - nesting is limited to 128 levels (serde_json's limit).

/** Input that cannot be used at all (exit 2 of the command-line verifier). */
export class Unusable extends Error {}

/** A JSON number, as written. */
export class JNum {
  constructor(text) {
    this.text = text;
  }
  /** The value as a BigInt if the number is a non-negative integer literal, else null. */
  uint() {
    return /^(0|[1-9][0-9]*)$/.test(this.text) ? BigInt(this.text) : null;
  }
}

const MAX_DEPTH = 128;

/** Parse `bytes` (a Uint8Array) as JSON; `what` names the document in errors. */
export function parseJson(bytes, what, rejectDuplicates) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Unusable(`bad ${what} JSON: not UTF-8`);
  }
  let i = 0;
  const fail = (m) => new Unusable(`bad ${what} JSON: ${m} at character ${i}`);
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) throw fail('nested too deeply');
    ws();
    if (i >= text.length) throw fail('unexpected end of input');
    const c = text[i];
    if (c === '{') {
      i++;
      const o = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw fail('expected a key');
        const k = string();
        ws();
        if (text[i] !== ':') throw fail('expected `:`');
        i++;
        const v = value(depth + 1);
        if (rejectDuplicates && Object.prototype.hasOwnProperty.call(o, k)) {
          throw new Unusable(`bad ${what} JSON: duplicate field \`${k}\``);
        }
        o[k] = v;
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        throw fail('expected `,` or `}`');
      }
    }
    if (c === '[') {
      i++;
      const a = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        throw fail('expected `,` or `]`');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 4096));
    if (m && m[0].length > 0 && m[0] !== '-') {
      i += m[0].length;
      return new JNum(m[0]);
    }
    throw fail('expected a value');
  };
  const string = () => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) throw fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) throw fail('control character in string');
      if (c !== 0x5c) {
        out += text[i++];
        continue;
      }
      const e = text[i + 1];
      i += 2;
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
      if (simple !== undefined) {
        out += simple;
        continue;
      }
      if (e !== 'u') throw fail('bad escape');
      const hex4 = () => {
        const h = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) throw fail('bad \\u escape');
        i += 4;
        return parseInt(h, 16);
      };
      const u = hex4();
      if (u >= 0xd800 && u <= 0xdbff) {
        if (text[i] !== '\\' || text[i + 1] !== 'u') throw fail('lone surrogate');
        i += 2;
        const lo = hex4();
        if (lo < 0xdc00 || lo > 0xdfff) throw fail('lone surrogate');
        out += String.fromCharCode(u, lo);
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        throw fail('lone surrogate');
      } else {
        out += String.fromCharCode(u);
      }
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) throw fail('trailing characters');
  return v;
}
