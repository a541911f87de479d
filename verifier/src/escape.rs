//! Escaping of untrusted text for display: one rule for the terminal, one for HTML.
//!
//! Every string that comes from a receipt, a block, a genesis, a node's API or a party's evidence
//! folder goes through [`terminal`] before it is printed and through [`html`] before it is put in
//! a page. JSON output needs neither: serde escapes control characters, and the other characters
//! below are harmless inside a JSON string.
//!
//! Rules ([`is_hidden`] decides which characters are shown as escapes):
//! - control characters (C0 `U+0000`-`U+001F` with tab and newline, `U+007F`, C1 `U+0080`-`U+009F`):
//!   an ESC can clear a terminal, move the cursor and recolour text, a newline can fake a line of
//!   output;
//! - bidirectional controls (`U+061C`, `U+200E`, `U+200F`, `U+202A`-`U+202E`, `U+2066`-`U+2069`):
//!   they reorder what is shown, so `exe.pdf` can read as `fdp.exe`;
//! - zero-width and other invisible format characters (`U+00AD`, `U+034F`, `U+180E`,
//!   `U+200B`-`U+200D`, `U+2060`-`U+2064`, `U+206A`-`U+206F`, `U+FEFF`, `U+FFF9`-`U+FFFB`, tag
//!   characters `U+E0000`-`U+E007F`): two strings that look equal can differ;
//! - line and paragraph separators (`U+2028`, `U+2029`).
//!
//! Such a character is shown as `\u{XXXX}` (upper-case hex, at least four digits), and a backslash
//! as `\\`, so that the escaped text is unambiguous: a label that spells `\u{1B}` literally is
//! shown as `\\u{1B}`. Everything else, Chinese included, is shown as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown as an escape (see the module rules).
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1F}'
            | '\u{7F}'..='\u{9F}'
            | '\u{AD}'
            | '\u{34F}'
            | '\u{61C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn push_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:04X}}}", c as u32);
}

/// `s` made safe to print on a terminal: hidden characters as `\u{XXXX}`, `\` as `\\`.
/// Borrowed when nothing needs escaping.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` made safe for HTML text and quoted attribute values: `& < > " '` as entities, and hidden
/// characters made visible as `\u{XXXX}` (with `\` as `\\`), exactly as [`terminal`] shows them.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\\' => out.push_str("\\\\"),
            c if is_hidden(c) => push_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_control_sequences() {
        assert_eq!(terminal("\x1b[2J\x1b[32mVALID"), "\\u{001B}[2J\\u{001B}[32mVALID");
        assert_eq!(terminal("a\nVERDICT: VALID\r\t"), "a\\u{000A}VERDICT: VALID\\u{000D}\\u{0009}");
        assert_eq!(terminal("\u{0}\u{7f}\u{85}\u{9b}"), "\\u{0000}\\u{007F}\\u{0085}\\u{009B}");
    }

    #[test]
    fn terminal_escapes_bidi_and_invisible() {
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{2029}',
            '\u{AD}',
            '\u{E0041}',
        ] {
            let s = format!("x{c}y");
            let want = format!("x\\u{{{:04X}}}y", c as u32);
            assert_eq!(terminal(&s), want, "U+{:04X}", c as u32);
            assert_eq!(html(&s), want, "U+{:04X}", c as u32);
        }
        assert_eq!(terminal("invoice\u{202E}fdp.exe"), "invoice\\u{202E}fdp.exe");
    }

    #[test]
    fn plain_text_is_untouched_and_borrowed() {
        for s in ["contract.pdf", "存证编号 合同.pdf", "café – “quoted” <b>", ""] {
            assert!(matches!(terminal(s), Cow::Borrowed(_)), "{s}");
            assert_eq!(terminal(s), s);
        }
    }

    #[test]
    fn backslash_keeps_escapes_unambiguous() {
        assert_eq!(terminal("\\u{001B}"), "\\\\u{001B}");
        assert_ne!(terminal("\\u{001B}"), terminal("\x1b"));
        assert_eq!(terminal("C:\\x"), "C:\\\\x");
    }

    #[test]
    fn html_escapes_markup_and_controls() {
        assert_eq!(html("<script>\"a\"&'b'</script>"), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
        assert_eq!(html("\x1b[2J<i>\u{202E}"), "\\u{001B}[2J&lt;i&gt;\\u{202E}");
        assert_eq!(html("存证主体"), "存证主体");
    }

    #[test]
    fn nothing_hidden_survives() {
        // Every code point: after escaping, no hidden character and no raw markup remains.
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            let s = c.to_string();
            let t = terminal(&s);
            assert!(!t.chars().any(is_hidden), "U+{cp:04X}");
            let h = html(&s);
            assert!(!h.chars().any(|c| is_hidden(c) || matches!(c, '<' | '>' | '"' | '\'')), "U+{cp:04X}");
        }
    }
}
