//! Transcripts in every format podcasts publish, read into timed speaker segments.
//!
//! The format is sniffed from the content, never taken from the declared type (feeds often
//! label SRT as `text/plain`, or VTT as SRT). Supported: WebVTT (with `<v Name>` voices), SRT
//! (with `Name:` prefixes), Podcasting 2.0 JSON (including word-level segments), Podcasting 2.0
//! HTML (`<cite>`/`<time>`/`<p>`) and other HTML, Markdown speaker turns (`**Name:** …`) and plain
//! text (`Name: …` lines or paragraphs).

use serde::Deserialize;

use crate::core::sanitize;

/// One piece of a transcript: who said what, and when (if the format has times).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The speaker, if named.
    pub speaker: Option<String>,
    /// Start in milliseconds from the beginning of the episode.
    pub start_ms: Option<i64>,
    /// End in milliseconds.
    pub end_ms: Option<i64>,
    /// The words, with markup removed and whitespace collapsed.
    pub text: String,
}

/// The formats podbrief reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// WebVTT.
    Vtt,
    /// SubRip.
    Srt,
    /// Podcasting 2.0 JSON.
    Json,
    /// HTML (Podcasting 2.0 or any other).
    Html,
    /// Markdown speaker turns.
    Markdown,
    /// Plain text.
    Text,
}

impl Format {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Vtt => "vtt",
            Format::Srt => "srt",
            Format::Json => "json",
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Text => "text",
        }
    }
}

/// A parsed transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The format found in the content.
    pub format: Format,
    /// Segments in order.
    pub segments: Vec<Segment>,
}

/// Why a transcript could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TranscriptError {
    /// The content held no words.
    #[error("the {0} transcript has no text")]
    Empty(&'static str),
    /// The content is JSON but not a Podcasting 2.0 transcript.
    #[error("not a Podcasting 2.0 JSON transcript: {0}")]
    Json(String),
    /// The bytes are not text (audio, an image, UTF-16 without a byte-order mark).
    #[error("the transcript is not text: {0}")]
    NotText(&'static str),
}

/// The text of a transcript file: UTF-8 (a byte-order mark skipped), UTF-16 with a byte-order
/// mark, or bytes that are mostly UTF-8 (invalid sequences replaced). What is not text is
/// refused: control bytes (NUL, ESC…) in more than 1 byte in 100 (audio, images, UTF-16 without
/// a byte-order mark), or more than 1 character in 10 not UTF-8.
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, TranscriptError> {
    let utf16 = |rest: &[u8], read: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = rest.chunks_exact(2).map(|p| read([p[0], p[1]])).collect();
        std::borrow::Cow::Owned(String::from_utf16_lossy(&units))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(utf16(rest, u16::from_be_bytes));
    }
    let controls = bytes
        .iter()
        .filter(|b| (**b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c)) || **b == 0x7f)
        .count();
    if controls * 100 > bytes.len() {
        return Err(TranscriptError::NotText(
            "binary data (NUL or other control bytes): audio, an image, or UTF-16 without a byte-order mark?",
        ));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(std::borrow::Cow::Borrowed(t)),
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let invalid = text
                .chars()
                .filter(|c| *c == char::REPLACEMENT_CHARACTER)
                .count();
            if invalid * 10 > text.chars().count() {
                return Err(TranscriptError::NotText("mostly bytes that are not UTF-8"));
            }
            Ok(text)
        }
    }
}

impl Transcript {
    /// Parses a transcript, sniffing its format from the content.
    pub fn parse(bytes: &[u8]) -> Result<Transcript, TranscriptError> {
        let text = decode(bytes)?;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let format = sniff(&text);
        let segments = match format {
            Format::Vtt | Format::Srt => parse_cues(&text),
            Format::Json => parse_json(&text)?,
            Format::Html => parse_html(&text),
            Format::Markdown => parse_markdown(&text),
            Format::Text => parse_text(&text),
        };
        let mut segments: Vec<Segment> = segments
            .into_iter()
            .map(|mut s| {
                s.text = sanitize::line(&s.text);
                s.speaker = s
                    .speaker
                    .map(|n| sanitize::bounded_line(&n, sanitize::NAME_CHARS))
                    .filter(|n| !n.is_empty());
                s
            })
            .filter(|s| !s.text.is_empty())
            .collect();
        if matches!(format, Format::Markdown | Format::Text) {
            fill_times(&mut segments);
        }
        if segments.is_empty() {
            return Err(TranscriptError::Empty(format.name()));
        }
        Ok(Transcript { format, segments })
    }

    /// Consecutive segments of one speaker merged into turns: the unit insights are drawn from.
    pub fn turns(&self) -> Vec<Segment> {
        let mut turns: Vec<Segment> = Vec::new();
        for s in &self.segments {
            match turns.last_mut() {
                Some(t) if t.speaker == s.speaker && s.speaker.is_some() => {
                    t.text.push(' ');
                    t.text.push_str(&s.text);
                    t.end_ms = s.end_ms.or(t.end_ms);
                }
                _ => turns.push(s.clone()),
            }
        }
        turns
    }

    /// All the words, one turn per line.
    pub fn plain_text(&self) -> String {
        self.turns()
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn sniff(text: &str) -> Format {
    let head = text.trim_start();
    if head.starts_with("WEBVTT") {
        return Format::Vtt;
    }
    if head.starts_with('{') || head.starts_with('[') && head[1..].trim_start().starts_with('{') {
        return Format::Json;
    }
    let timing_lines = text
        .lines()
        .take(200)
        .filter(|l| parse_timing(l).is_some())
        .count();
    if timing_lines >= 1 {
        let comma = text
            .lines()
            .take(200)
            .any(|l| l.contains("-->") && l.contains(','));
        return if comma { Format::Srt } else { Format::Vtt };
    }
    let lower: String = head
        .chars()
        .take(4000)
        .collect::<String>()
        .to_ascii_lowercase();
    if [
        "<html",
        "<!doctype",
        "<body",
        "<cite",
        "<p>",
        "<p ",
        "<div",
        "<!--",
    ]
    .iter()
    .any(|t| lower.contains(t))
    {
        return Format::Html;
    }
    if text
        .lines()
        .take(400)
        .any(|l| markdown_speaker(l).is_some())
    {
        return Format::Markdown;
    }
    Format::Text
}

/// Collapses whitespace and decodes the HTML entities transcripts use.
fn clean(s: &str) -> String {
    let decoded = decode_entities(s);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..].find(';').map(|j| j + 1).filter(|j| *j <= 10);
        let decoded = end.and_then(|j| {
            let name = &rest[1..j];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "rsquo" | "lsquo" => Some('\''),
                "rdquo" | "ldquo" => Some('"'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, j))
        });
        match decoded {
            Some((c, j)) => {
                out.push(c);
                rest = &rest[j + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes `<...>` tags, keeping the text between them.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Parses `HH:MM:SS.mmm`, `HH:MM:SS,mmm`, `MM:SS.mmm`, `H:MM:SS` or `M:SS` into milliseconds.
pub fn parse_clock(s: &str) -> Option<i64> {
    let s = s.trim();
    let (main, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = main.split(':').collect();
    if parts.len() < 2
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3)
    {
        return None;
    }
    let nums: Vec<i64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let (h, m, sec) = match nums[..] {
        [m, s] => (0, m, s),
        [h, m, s] => (h, m, s),
        _ => return None,
    };
    if sec >= 60 || (parts.len() == 3 && m >= 60) {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let f: String = frac.chars().chain("000".chars()).take(3).collect();
        f.parse().ok()?
    };
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

fn parse_timing(line: &str) -> Option<(i64, i64)> {
    let (a, b) = line.split_once("-->")?;
    let b = b.split_whitespace().next()?; // VTT cue settings follow the end time
    Some((parse_clock(a)?, parse_clock(b)?))
}

/// A `Name: text` prefix that looks like a speaker label.
fn speaker_prefix(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(':')?;
    let name = name.trim();
    let words = name.split_whitespace().count();
    let ok = !name.is_empty()
        && name.chars().count() <= 40
        && (1..=4).contains(&words)
        && name.chars().next().is_some_and(|c| c.is_uppercase())
        && name
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '.' || c == '-' || c == '\'')
        && !rest.starts_with("//");
    ok.then_some((name, rest.trim_start()))
}

fn parse_cues(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut speaker: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((start, end)) = parse_timing(line) else {
            continue;
        };
        let mut body = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() || parse_timing(l).is_some() {
                break;
            }
            body.push(*l);
            lines.next();
        }
        // An SRT cue number or VTT cue id just before the next timing line is not text.
        if let (Some(last), Some(next)) = (body.last(), lines.peek())
            && parse_timing(next).is_some()
            && last.trim().bytes().all(|b| b.is_ascii_digit())
        {
            body.pop();
        }
        let mut joined = body.join(" ");
        if let Some(i) = joined.find("<v ").or_else(|| joined.find("<v."))
            && let Some(j) = joined[i..].find('>')
        {
            let tag = &joined[i + 2..i + j];
            let name = tag.split_once(' ').map(|(_, n)| n).unwrap_or("").trim();
            if !name.is_empty() {
                speaker = Some(clean(name));
            }
        }
        joined = strip_tags(&joined);
        if let Some((name, rest)) = speaker_prefix(&joined) {
            speaker = Some(name.to_string());
            joined = rest.to_string();
        }
        segments.push(Segment {
            speaker: speaker.clone(),
            start_ms: Some(start),
            end_ms: Some(end),
            text: clean(&joined),
        });
    }
    segments
}

#[derive(Deserialize)]
struct JsonTranscript {
    segments: Vec<JsonSegment>,
}

#[derive(Deserialize)]
struct JsonSegment {
    speaker: Option<String>,
    #[serde(rename = "startTime")]
    start_time: Option<f64>,
    #[serde(rename = "endTime")]
    end_time: Option<f64>,
    body: Option<String>,
}

fn seconds_to_ms(s: Option<f64>) -> Option<i64> {
    s.filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(|s| (s * 1000.0).round() as i64)
}

fn parse_json(text: &str) -> Result<Vec<Segment>, TranscriptError> {
    let parsed: JsonTranscript = match serde_json::from_str::<JsonTranscript>(text) {
        Ok(t) => t,
        Err(e) => match serde_json::from_str::<Vec<JsonSegment>>(text) {
            Ok(segments) => JsonTranscript { segments },
            Err(_) => return Err(TranscriptError::Json(e.to_string())),
        },
    };
    // Word-level transcripts become one segment per run of a speaker, broken at sentence ends, so
    // segments stay phrase-sized and their start times stay exact.
    let mut out: Vec<Segment> = Vec::new();
    for s in parsed.segments {
        let body = clean(&strip_tags(s.body.as_deref().unwrap_or("")));
        if body.is_empty() {
            continue;
        }
        let speaker = s.speaker.map(|n| clean(&n)).filter(|n| !n.is_empty());
        let start = seconds_to_ms(s.start_time);
        let end = seconds_to_ms(s.end_time);
        let word_level = !body.contains(' ');
        match out.last_mut() {
            Some(prev)
                if word_level
                    && prev.speaker == speaker
                    && !prev.text.ends_with(['.', '?', '!'])
                    && prev.text.len() < 400
                    // A pause of 600 ms or more starts a new phrase, so the extractor can end a
                    // sentence there in unpunctuated speech.
                    && start.zip(prev.end_ms).is_none_or(|(s, e)| s - e < 600) =>
            {
                // Punctuation tokens of word-level transcripts attach to the word before.
                if !body.starts_with([',', '.', '!', '?', ';', ':', ')']) {
                    prev.text.push(' ');
                }
                prev.text.push_str(&body);
                prev.end_ms = end.or(prev.end_ms);
            }
            _ => out.push(Segment {
                speaker,
                start_ms: start,
                end_ms: end,
                text: body,
            }),
        }
    }
    Ok(out)
}

fn parse_html(text: &str) -> Vec<Segment> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("<cite") {
        let plain = html2text::from_read(text.as_bytes(), 100_000).unwrap_or_default();
        return parse_text(&plain);
    }
    // Podcasting 2.0 HTML: <cite>Name:</cite> <time>0:00</time> <p>text</p>, repeated.
    let mut segments = Vec::new();
    let mut speaker: Option<String> = None;
    let mut start: Option<i64> = None;
    let mut pos = 0;
    while pos < text.len() {
        let Some(open) = lower[pos..].find('<').map(|i| pos + i) else {
            break;
        };
        let Some(close) = lower[open..].find('>').map(|i| open + i) else {
            break;
        };
        let tag = lower[open + 1..close]
            .split_whitespace()
            .next()
            .unwrap_or("");
        let end_tag = format!("</{tag}");
        let content_end = |from: usize| lower[from..].find(&end_tag).map(|i| from + i);
        match tag {
            "cite" | "time" | "p" => {
                let Some(e) = content_end(close + 1) else {
                    break;
                };
                let inner = clean(&strip_tags(&text[close + 1..e]));
                match tag {
                    "cite" => {
                        speaker = Some(inner.trim_end_matches(':').trim().to_string())
                            .filter(|s| !s.is_empty())
                    }
                    "time" => start = parse_clock(&inner),
                    _ => {
                        segments.push(Segment {
                            speaker: speaker.clone(),
                            start_ms: start,
                            end_ms: None,
                            text: inner,
                        });
                    }
                }
                pos = e + end_tag.len();
            }
            _ => pos = close + 1,
        }
    }
    // Each segment ends where the next begins.
    for i in 1..segments.len() {
        let next = segments[i].start_ms;
        segments[i - 1].end_ms = next;
    }
    segments
}

fn markdown_speaker(line: &str) -> Option<(String, &str)> {
    let rest = line.trim_start().strip_prefix("**")?;
    let end = rest.find("**")?;
    let label = &rest[..end];
    let (name, after) = if let Some(n) = label.strip_suffix(':') {
        (n, &rest[end + 2..])
    } else {
        (label, rest[end + 2..].trim_start().strip_prefix(':')?)
    };
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= 40).then(|| (name.to_string(), after.trim()))
}

fn unescape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else if c != '*' && c != '_' {
            out.push(c);
        }
    }
    out
}

/// A line or block that is only a timestamp marker such as `[00:34:12]`.
fn is_marker(s: &str) -> bool {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    parse_clock(t).is_some() || s.trim().is_empty()
}

fn parse_markdown(text: &str) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    for block in text.split("\n\n") {
        let block = block.trim();
        if block.is_empty() || block.starts_with('#') || block.starts_with("---") {
            continue;
        }
        let (speaker, body) = match markdown_speaker(block) {
            Some((name, rest)) => (Some(unescape_markdown(&name)), rest.to_string()),
            None => (
                segments.last().and_then(|s| s.speaker.clone()),
                block.to_string(),
            ),
        };
        let body = unescape_markdown(&body);
        if is_marker(&body) {
            continue;
        }
        // A Changelog-style mark opening the turn or paragraph (`**Ann:** \[12:24\] Right.`)
        // times it; the mark stays in the words as a transcript note, like `[laughter]`.
        segments.push(Segment {
            speaker,
            start_ms: bracket_clock(&body).map(|(ms, _)| ms),
            end_ms: None,
            text: clean(&body),
        });
    }
    segments
}

/// A leading `[mm:ss]` or `[hh:mm:ss]` mark: its time and the text after it.
fn bracket_clock(s: &str) -> Option<(i64, &str)> {
    let rest = s.trim_start().strip_prefix('[')?;
    let (inside, after) = rest.split_once(']')?;
    Some((parse_clock(inside)?, after.trim_start()))
}

/// Times for a transcript with occasional time marks (`[12:24]` every few minutes): an untimed
/// segment gets a start interpolated by text length between the marks around it (counting from
/// 0:00 at the top), and after the last mark at the pace measured over the marks. Each segment
/// then ends where the next one starts. Marks that go backwards are not used. Nothing changes
/// without a mark.
fn fill_times(segments: &mut [Segment]) {
    let mut offsets = Vec::with_capacity(segments.len());
    let mut pos = 0usize;
    for s in segments.iter() {
        offsets.push(pos);
        pos += s.text.len() + 1;
    }
    // (text offset, ms), increasing in both.
    let mut anchors: Vec<(usize, i64)> = vec![(0, 0)];
    for (s, &off) in segments.iter().zip(&offsets) {
        let Some(ms) = s.start_ms else { continue };
        match anchors.last_mut() {
            Some(last) if off == last.0 && ms >= last.1 => last.1 = ms,
            Some(last) if off > last.0 && ms > last.1 => anchors.push((off, ms)),
            _ => {}
        }
    }
    if anchors.len() < 2 && anchors[0].1 == 0 {
        return;
    }
    let (first, last) = (anchors[0], anchors[anchors.len() - 1]);
    // Milliseconds per byte of text, if the marks give a plausible speaking pace.
    let pace = (last.0 > first.0)
        .then(|| (last.1 - first.1) as f64 / (last.0 - first.0) as f64)
        .filter(|p| (5.0..=500.0).contains(p));
    for (s, &off) in segments.iter_mut().zip(&offsets) {
        if s.start_ms.is_some() {
            continue;
        }
        let i = anchors.partition_point(|a| a.0 <= off);
        s.start_ms = match (anchors.get(i.wrapping_sub(1)), anchors.get(i)) {
            (Some(a), Some(b)) => {
                Some(a.1 + ((b.1 - a.1) as f64 * (off - a.0) as f64 / (b.0 - a.0) as f64) as i64)
            }
            (Some(a), None) => pace.map(|p| a.1 + ((off - a.0) as f64 * p) as i64),
            _ => None,
        };
    }
    for i in 0..segments.len() {
        if segments[i].end_ms.is_some() {
            continue;
        }
        let start = segments[i].start_ms;
        segments[i].end_ms = match segments.get(i + 1).and_then(|n| n.start_ms) {
            Some(next) if start.is_none_or(|s| next >= s) => Some(next),
            _ => start
                .zip(pace)
                .map(|(s, p)| s + (segments[i].text.len() as f64 * p) as i64),
        };
    }
}

fn parse_text(text: &str) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut new_paragraph = true;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            new_paragraph = true;
            continue;
        }
        // An optional leading timestamp: "[00:01:02] ...", "(1:02) ..." or "00:01:02 ...".
        let (start, line) = leading_clock(line);
        if let Some((name, rest)) = speaker_prefix(line) {
            segments.push(Segment {
                speaker: Some(name.to_string()),
                start_ms: start,
                end_ms: None,
                text: clean(rest),
            });
        } else if new_paragraph || start.is_some() || segments.is_empty() {
            let speaker = segments
                .last()
                .and_then(|s| s.speaker.clone())
                .filter(|_| !new_paragraph);
            segments.push(Segment {
                speaker,
                start_ms: start,
                end_ms: None,
                text: clean(line),
            });
        } else if let Some(last) = segments.last_mut() {
            last.text.push(' ');
            last.text.push_str(&clean(line));
        }
        new_paragraph = false;
    }
    segments
}

fn leading_clock(line: &str) -> (Option<i64>, &str) {
    let (token, rest) = match line.split_once(char::is_whitespace) {
        Some((t, r)) => (t, r.trim_start()),
        None => return (None, line),
    };
    let t = token.trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')');
    match parse_clock(t) {
        Some(ms) if token.contains(':') => (Some(ms), rest),
        _ => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("00:01:02.500"), Some(62_500));
        assert_eq!(parse_clock("00:01:02,5"), Some(62_500));
        assert_eq!(parse_clock("1:02"), Some(62_000));
        assert_eq!(parse_clock("1:02:03"), Some(3_723_000));
        assert_eq!(parse_clock("hello"), None);
        assert_eq!(parse_clock("1:75"), None);
    }

    #[test]
    fn sniffing_ignores_declared_types() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nAda: Hello there.\n\n2\n00:00:02,000 --> 00:00:03,000\nGeneral Kenobi.\n";
        let t = Transcript::parse(srt.as_bytes()).unwrap();
        assert_eq!(t.format, Format::Srt);
        assert_eq!(t.segments[1].speaker.as_deref(), Some("Ada"));
        assert_eq!(t.segments[1].text, "General Kenobi.");
        let vtt = "WEBVTT\n\n00:01.000 --> 00:02.000 align:start\n<v Ben>Fish &amp; chips.</v>\n";
        let t = Transcript::parse(vtt.as_bytes()).unwrap();
        assert_eq!(
            (t.format, t.segments[0].text.as_str()),
            (Format::Vtt, "Fish & chips.")
        );
        assert_eq!(t.segments[0].speaker.as_deref(), Some("Ben"));
    }

    #[test]
    fn word_level_json_becomes_phrases() {
        let j = r#"{"segments":[{"speaker":"A","startTime":0.5,"endTime":0.7,"body":"Hello"},
            {"speaker":"A","startTime":0.8,"endTime":1.0,"body":"world."},
            {"speaker":"A","startTime":1.2,"endTime":1.4,"body":"Again"}]}"#;
        let t = Transcript::parse(j.as_bytes()).unwrap();
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].text, "Hello world.");
        assert_eq!(t.segments[1].start_ms, Some(1200));
        assert_eq!(t.turns().len(), 1);
        let paused = r#"{"segments":[{"speaker":"A","startTime":0.0,"endTime":0.4,"body":"so"},
            {"speaker":"A","startTime":0.5,"endTime":0.9,"body":"yes"},
            {"speaker":"A","startTime":2.0,"endTime":2.4,"body":"then"}]}"#;
        let t = Transcript::parse(paused.as_bytes()).unwrap();
        assert_eq!(t.segments.len(), 2, "a 1.1 s pause starts a new phrase");
        assert_eq!(t.segments[1].start_ms, Some(2000));
    }

    #[test]
    fn changelog_time_marks_time_the_segments_between_them() {
        // About 15 characters a second, like speech.
        let md = "**Ann:** Welcome back. This is the first turn of the show.\n\n\
                  **Bo:** \\[00:04\\] Four seconds in, exactly.\n\n\
                  A paragraph in between.\n\n\
                  **Break**: \\[00:05\\]\n\n\
                  **Ann:** \\[0:00:09\\] Nine seconds in. A long tail follows here.\n\n\
                  **Bo:** And the very last words.\n";
        let t = Transcript::parse(md.as_bytes()).unwrap();
        assert_eq!(t.format, Format::Markdown);
        let texts: Vec<&str> = t.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Welcome back. This is the first turn of the show.",
                "[00:04] Four seconds in, exactly.",
                "A paragraph in between.",
                "[0:00:09] Nine seconds in. A long tail follows here.",
                "And the very last words.",
            ],
            "a break's lone mark is no segment"
        );
        let starts: Vec<Option<i64>> = t.segments.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts[0], Some(0), "the top is 0:00");
        assert_eq!(starts[1], Some(4_000));
        assert_eq!(starts[3], Some(9_000));
        let between = starts[2].unwrap();
        assert!(between > 4_000 && between < 9_000, "{between}");
        let tail = starts[4].unwrap();
        assert!(
            tail > 9_000,
            "after the last mark, at the measured pace: {tail}"
        );
        assert_eq!(bracket_clock("[1:03:00] x"), Some((3_780_000, "x")));
        assert_eq!(bracket_clock("[unintelligible 00:12:02.08] x"), None);
        for w in t.segments.windows(2) {
            assert_eq!(
                w[0].end_ms, w[1].start_ms,
                "each ends where the next starts"
            );
        }
        assert!(t.segments[4].end_ms.unwrap() > tail);
    }

    #[test]
    fn transcripts_without_marks_stay_untimed() {
        let md = "**Ann:** One turn.\n\n**Bo:** Another turn, no times.\n";
        let t = Transcript::parse(md.as_bytes()).unwrap();
        assert!(
            t.segments
                .iter()
                .all(|s| s.start_ms.is_none() && s.end_ms.is_none())
        );
        let txt = "[00:00:10] Ann: Plain text with a mark.\n\nBo: Then no mark.\n\n[00:00:20] Ann: A mark.\n";
        let t = Transcript::parse(txt.as_bytes()).unwrap();
        assert_eq!(t.format, Format::Text);
        assert_eq!(t.segments[0].start_ms, Some(10_000));
        assert_eq!(t.segments[0].end_ms, t.segments[1].start_ms);
        let b = t.segments[1].start_ms.unwrap();
        assert!(b > 10_000 && b < 20_000, "{b}");
        // Marks that go backwards are not used to time the others.
        let md = "**A:** \\[10:00\\] Ten.\n\n**B:** Between.\n\n**A:** \\[05:00\\] Five.\n\n**B:** After.\n";
        let t = Transcript::parse(md.as_bytes()).unwrap();
        let b = t.segments[1].start_ms;
        assert!(b.is_none_or(|b| b >= 600_000), "{b:?}");
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            "",
            "\u{0}\u{0}\u{0}",
            "{",
            "<cite>",
            "WEBVTT\n\n-->",
            "**:**",
            "1:\n",
            "&#xFFFFFFFF;",
            "é&",
            "[99:99] x",
            "**A:** \\[00:01\\]",
            "**A:** [1:00] a\n\n**B:** [0:30] b\n\nc",
            "[",
            "[]",
        ] {
            let _ = Transcript::parse(input.as_bytes());
        }
        assert!(matches!(
            Transcript::parse(b"   "),
            Err(TranscriptError::Empty(_))
        ));
    }
}
