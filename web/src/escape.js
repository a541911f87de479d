// Display escaping for every string that comes from a receipt or a genesis.
//
// Rule: such a string is only ever inserted as text (textContent), and before that every code
// point that is invisible or changes how the text around it is shown is replaced by a visible
// escape `\u{hex}`: control characters (C0, DEL, C1), format characters (bidirectional
// overrides and isolates, zero-width spaces and joiners, the byte-order mark, soft hyphen,
// tag characters), line and paragraph separators, private-use code points, lone surrogates and
// invisible fillers. A backslash is shown as `\\`, so an escape in the output can always be told
// apart from text that merely looks like one.

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;

/** The text to show for `s`: every hidden or reordering code point written as `\u{hex}`. */
export function escapeText(s) {
  let out = '';
  for (const ch of String(s)) {
    if (ch === '\\') out += '\\\\';
    else if (HIDDEN.test(ch)) out += '\\u{' + ch.codePointAt(0).toString(16) + '}';
    else out += ch;
  }
  return out;
}
