//! Text from feeds and transcripts made safe for every output, once, at ingest: control
//! characters dropped (tab and newline kept where text has lines), bidirectional overrides and
//! isolates dropped (they reorder what follows them on a page or a terminal), and sizes bounded.
//! The writers (RSS, pages, chat renderers, the command line) use [`is_unsafe_char`] too, so
//! text stored before this existed is safe there as well.

use std::borrow::Cow;

use super::model::NewInsight;

/// Longest podcast, episode or chapter title kept, in characters.
pub const TITLE_CHARS: usize = 300;
/// Longest speaker name kept, in characters.
pub const NAME_CHARS: usize = 100;
/// Longest show notes (an episode's description) kept, in characters.
pub const NOTES_CHARS: usize = 50_000;
/// Longest insight text kept, in characters.
pub const INSIGHT_CHARS: usize = 1_000;
/// Longest quote kept, in characters.
pub const QUOTE_CHARS: usize = 2_000;
/// Longest topic kept, in characters.
pub const TOPIC_CHARS: usize = 60;
/// Longest link kept, in bytes; a longer one is dropped.
pub const LINK_BYTES: usize = 2_048;

/// Whether `c` never belongs in stored or shown text: C0 controls other than tab, newline and
/// carriage return, DEL and the C1 controls, the bidirectional embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069), and the noncharacters XML forbids (U+FFFE, U+FFFF).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{fffe}' | '\u{ffff}')
}

/// `s` without unsafe characters, line breaks as `\n` (a carriage return alone or before a
/// newline becomes one newline). Borrowed when nothing changes.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\r' || is_unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if is_unsafe_char(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as one line: unsafe characters dropped, every run of whitespace one space, trimmed.
pub fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !is_unsafe_char(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `s` cut to at most `max` characters: at the last space before the limit (when there is one
/// in the last fifth), ending in "…" (counted in `max`). Unchanged when short enough.
pub fn bounded(s: &str, max: usize) -> Cow<'_, str> {
    let Some((cut, _)) = s.char_indices().nth(max) else {
        return Cow::Borrowed(s);
    };
    // Room for the ellipsis.
    let end = s[..cut].char_indices().last().map_or(0, |(i, _)| i);
    let head = &s[..end];
    let floor = head.char_indices().nth(max - max / 5).map_or(0, |(i, _)| i);
    let head = match head[floor..].rfind(char::is_whitespace) {
        Some(i) => &head[..floor + i],
        None => head,
    };
    Cow::Owned(format!("{}…", head.trim_end()))
}

/// A title or name: one line, at most `max` characters.
pub fn bounded_line(s: &str, max: usize) -> String {
    let l = line(s);
    bounded(&l, max).into_owned()
}

/// A link kept only when it is plain (no whitespace or unsafe characters) and at most
/// [`LINK_BYTES`] long.
pub fn link(s: &str) -> Option<String> {
    let s = s.trim();
    let plain = !s.is_empty()
        && s.len() <= LINK_BYTES
        && !s.chars().any(|c| c.is_whitespace() || is_unsafe_char(c));
    plain.then(|| s.to_string())
}

/// An insight (from any engine or an import) made safe and bounded before it is stored.
pub fn insight(i: &mut NewInsight) {
    i.text = bounded_line(&i.text, INSIGHT_CHARS);
    i.quote = bounded_line(&i.quote, QUOTE_CHARS);
    i.speaker = i
        .speaker
        .as_deref()
        .map(|s| bounded_line(s, NAME_CHARS))
        .filter(|s| !s.is_empty());
    i.chapter = i
        .chapter
        .as_deref()
        .map(|s| bounded_line(s, TITLE_CHARS))
        .filter(|s| !s.is_empty());
    for t in &mut i.topics {
        *t = bounded_line(t, TOPIC_CHARS);
    }
    i.topics.retain(|t| !t.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_go_tabs_and_newlines_stay() {
        let s = "a\0b\x1b[31mc\u{202e}d\u{2066}e\u{7f}\u{85}f\tg\r\nh\ri\u{ffff}";
        assert_eq!(text(s), "ab[31mcdef\tg\nh\ni");
        assert_eq!(line(" x\n\ty\x1b z\u{202e} "), "x y z");
        assert_eq!(
            line("Tidal\x1b[2J Talk\u{202e}lanruoj\0"),
            "Tidal[2J Talklanruoj"
        );
        assert!(matches!(text("plain — text ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn bounded_text_is_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded("the quick brown fox jumps over", 20);
        assert_eq!(cut, "the quick brown fox…");
        assert!(cut.chars().count() <= 20);
        let word = "x".repeat(100);
        let cut = bounded(&word, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
        let wide = "é".repeat(50);
        assert_eq!(bounded(&wide, 5).chars().count(), 5);
        assert_eq!(bounded("abc", 0), "…");
    }

    #[test]
    fn links_are_plain_and_bounded() {
        assert_eq!(
            link(" https://a.example/x ").as_deref(),
            Some("https://a.example/x")
        );
        assert_eq!(link("https://a.example/\u{202e}x"), None);
        assert_eq!(link("https://a.example/ x"), None);
        assert_eq!(
            link(&format!("https://a.example/{}", "x".repeat(3000))),
            None
        );
    }
}
