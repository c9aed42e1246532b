//! Feeds (RSS 2.0, Atom, JSON Feed) to podcast metadata and episodes, with feed-rs.
//!
//! feed-rs reads the feed; a second light pass over the XML reads what it leaves out for
//! podcasts: whether an item really has a `<guid>` (feed-rs invents one when it does not),
//! `<podcast:transcript>` links that are relative to the feed, the `<podcast:chapters>` link,
//! Podlove Simple Chapters (`<psc:chapter start="…" title="…"/>`, under any prefix bound to
//! their namespace) and `<podcast:soundbite>` marks.

use feed_rs::model::{Entry, Feed};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::chapters::{MAX_CHAPTERS, MAX_SOUNDBITES, podlove_chapter, soundbite, tidy};
use crate::core::model::{EpisodeMarks, NewEpisode, PodcastMeta};
use crate::core::sanitize;

/// Why a feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Not a feed feed-rs can parse.
    #[error("not a valid RSS/Atom feed: {0}")]
    Parse(String),
}

/// A transcript link found on an item.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptLink {
    /// The URL as written (possibly relative).
    pub url: String,
    /// The declared MIME type.
    pub kind: Option<String>,
    /// The declared language.
    pub language: Option<String>,
}

/// What the raw pass found on one item.
#[derive(Debug, Clone, Default, PartialEq)]
struct RawItem {
    guid: Option<String>,
    transcripts: Vec<TranscriptLink>,
    /// The first audio or video `<enclosure>` (or top-level `<media:content>`), as written.
    enclosure: Option<String>,
    /// Chapters link (as written), Podlove chapters and soundbites.
    marks: EpisodeMarks,
}

/// A parsed feed: the show and its episodes (newest first), each with its transcript links.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    /// The show.
    pub podcast: PodcastMeta,
    /// Episodes with their transcript candidates (relative URLs unresolved).
    pub episodes: Vec<(NewEpisode, Vec<TranscriptLink>)>,
    /// The feed's language, if declared.
    pub language: Option<String>,
    /// Each episode's chapters link (relative URLs unresolved), Podlove chapters and
    /// soundbites, in the order of `episodes`.
    pub marks: Vec<EpisodeMarks>,
}

/// The Podlove Simple Chapters namespace.
const PODLOVE_NS: &str = "http://podlove.org/simple-chapters";

/// Namespaces real feeds use without declaring them.
const KNOWN_PREFIXES: &[(&str, &str)] = &[
    ("itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
    ("podcast", "https://podcastindex.org/namespace/1.0"),
    ("media", "http://search.yahoo.com/mrss/"),
    ("content", "http://purl.org/rss/1.0/modules/content/"),
    ("atom", "http://www.w3.org/2005/Atom"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    (
        "googleplay",
        "http://www.google.com/schemas/play-podcasts/1.0",
    ),
    ("psc", "http://podlove.org/simple-chapters"),
    ("sy", "http://purl.org/rss/1.0/modules/syndication/"),
];

/// A lenient second chance for feeds a strict parser refuses: an `<rss>` without `version`, and
/// prefixes such as `itunes:` used without their `xmlns` declaration. `None` if nothing to fix.
fn repair(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let mut s = text.trim_start_matches('\u{feff}').trim_start().to_string();
    // The root element: the first tag that is not a declaration, comment or doctype.
    let mut pos = 0;
    let root = loop {
        let i = pos + s[pos..].find('<')?;
        if s[i..].starts_with("<?") || s[i..].starts_with("<!") {
            pos = i + 2;
            continue;
        }
        break i;
    };
    let name_end =
        root + 1 + s[root + 1..].find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
    let tag_end = root + s[root..].find('>')?;
    let mut inserts = String::new();
    if &s[root + 1..name_end] == "rss" && !s[root..tag_end].contains("version") {
        inserts.push_str(" version=\"2.0\"");
    }
    for (prefix, ns) in KNOWN_PREFIXES {
        if s.contains(&format!("<{prefix}:")) && !s.contains(&format!("xmlns:{prefix}=")) {
            inserts.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
        }
    }
    if inserts.is_empty() {
        return None;
    }
    s.insert_str(name_end, &inserts);
    Some(s.into_bytes())
}

fn parse_strict(bytes: &[u8]) -> Result<Feed, FeedError> {
    // feed-rs panics on some values (an `itunes:duration` of twenty digits overflows it): such a
    // feed is an error, never a crash.
    quietly(|| {
        feed_rs::parser::Builder::new()
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(bytes)
    })
    .map_err(|_| FeedError::Parse("the parser failed on a malformed value".into()))?
    .map_err(|e| FeedError::Parse(e.to_string()))
}

thread_local! {
    /// Set while this thread runs the feed parser under [`quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic without printing it: feed-rs's known panics are a feed error
/// (reported as such), not a crash to alarm the operator with a backtrace. Panics anywhere else
/// still go to the hook that was installed before.
fn quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(false));
    result
}

/// The feed without the values feed-rs is known to panic on, none of which podbrief uses: every
/// `itunes:duration` that is not a plausible time (digits overflow it), and the e-mail style person
/// fields (`itunes:author`, `managingEditor`, `webMaster`, `author`) that are not plain ASCII
/// (non-ASCII text after an address breaks it).
/// The second chance for a feed feed-rs could not read. `None` when nothing was removed.
fn without_fragile_values(bytes: &[u8]) -> Option<Vec<u8>> {
    let plausible_duration = |body: &str| {
        // h:mm:ss, mm:ss or seconds, with at most 9 digits in a part.
        !body.trim().is_empty()
            && body.trim().split(':').all(|p| {
                let p = p.split('.').next().unwrap_or("");
                !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let plain = |body: &str| body.is_ascii();
    /// Whether an element's text may stay.
    type Keep = fn(&str) -> bool;
    let rules: [(&str, Keep); 5] = [
        ("itunes:duration", plausible_duration),
        ("itunes:author", plain),
        ("managingEditor", plain),
        ("webMaster", plain),
        ("author", plain),
    ];
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    let mut changed = false;
    for (tag, keep) in rules {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut out = String::with_capacity(text.len());
        let mut rest: &str = &text;
        while let Some(i) = rest.find(&open) {
            let body_start = i + open.len();
            let Some(len) = rest[body_start..].find(&close) else {
                break;
            };
            let body = &rest[body_start..body_start + len];
            out.push_str(&rest[..body_start]);
            if keep(body) {
                out.push_str(body);
            } else {
                changed = true;
            }
            rest = &rest[body_start + len..];
        }
        out.push_str(rest);
        text = out;
    }
    changed.then(|| text.into_bytes())
}

/// Parses feed bytes. `name` (a file name or host) titles a feed that has no title.
pub fn parse_feed(bytes: &[u8], name: &str) -> Result<ParsedFeed, FeedError> {
    let (feed, bytes) = match parse_strict(bytes) {
        Ok(f) => (f, std::borrow::Cow::Borrowed(bytes)),
        Err(e) => {
            // Second chances: undeclared prefixes or a missing RSS version, then the values
            // feed-rs is known to fail on.
            let fixed = repair(bytes).unwrap_or_else(|| bytes.to_vec());
            let fixed = without_fragile_values(&fixed).unwrap_or(fixed);
            if fixed == bytes {
                return Err(e);
            }
            match parse_strict(&fixed) {
                Ok(f) => (f, std::borrow::Cow::Owned(fixed)),
                Err(_) => return Err(e),
            }
        }
    };
    let raw = scan_items(&bytes);
    let title = feed
        .title
        .as_ref()
        .map(|t| clean_text(&t.content))
        .unwrap_or_default();
    let title = if title.is_empty() {
        name.trim().to_string()
    } else {
        title
    };
    let podcast = PodcastMeta {
        title: if title.is_empty() {
            "Untitled podcast".into()
        } else {
            title
        },
        link: feed
            .links
            .iter()
            .find(|l| l.rel.as_deref() != Some("self"))
            .and_then(|l| sanitize::link(&l.href)),
        image: feed
            .logo
            .as_ref()
            .or(feed.icon.as_ref())
            .and_then(|i| sanitize::link(&i.uri)),
    };
    let same_count = raw.len() == feed.entries.len();
    let mut found: Vec<(NewEpisode, Vec<TranscriptLink>, EpisodeMarks)> = feed
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let mut raw = if same_count {
                raw.get(i).cloned().unwrap_or_default()
            } else {
                RawItem::default()
            };
            let mut marks = std::mem::take(&mut raw.marks);
            marks.chapters = tidy(marks.chapters);
            marks.soundbites.sort_by_key(|s| s.start_ms);
            episode(e, raw).map(|(ep, links)| (ep, links, marks))
        })
        .collect();
    found.sort_by_key(|e| std::cmp::Reverse(e.0.published_at));
    let (episodes, marks) = found
        .into_iter()
        .map(|(ep, links, marks)| ((ep, links), marks))
        .unzip();
    let language = feed.language.clone().filter(|l| !l.trim().is_empty());
    Ok(ParsedFeed {
        podcast,
        episodes,
        language,
        marks,
    })
}

/// A title from the feed: one line of safe text, bounded.
fn clean_text(s: &str) -> String {
    sanitize::bounded_line(s, sanitize::TITLE_CHARS)
}

/// Show notes as plain text.
fn notes_text(html: &str) -> String {
    let text = html2text::config::plain()
        .string_from_read(html.as_bytes(), 100_000)
        .unwrap_or_else(|_| html.to_string());
    // One paragraph per block or list item, so an item never runs into the text before it.
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        let item = line.strip_prefix("* ").or_else(|| line.strip_prefix("- "));
        match item {
            Some(i) => out.push(i.trim().to_string()),
            None if line.is_empty() => out.push(String::new()),
            None => match out.last_mut() {
                Some(last) if !last.is_empty() => {
                    last.push(' ');
                    last.push_str(line);
                }
                _ => out.push(line.to_string()),
            },
        }
    }
    out.retain(|p| !p.is_empty());
    let notes = sanitize::text(&out.join("\n\n")).into_owned();
    sanitize::bounded(&notes, sanitize::NOTES_CHARS).into_owned()
}

/// The first playable media content's URL (audio or video, or of no stated type).
fn media_audio(e: &Entry) -> Option<String> {
    e.media
        .iter()
        .flat_map(|m| m.content.iter())
        .find(|c| {
            c.content_type
                .as_ref()
                .is_none_or(|t| t.ty().as_str() == "audio" || t.ty().as_str() == "video")
        })
        .and_then(|c| c.url.as_ref().and_then(|u| sanitize::link(u.as_str())))
}

/// The show notes: the content, else the summary, else a media description; as text.
fn show_notes(e: &Entry) -> Option<String> {
    e.content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))
        .or_else(|| {
            e.media
                .iter()
                .find_map(|m| m.description.as_ref().map(|d| d.content.clone()))
        })
        .map(|h| notes_text(&h))
        .filter(|n| !n.is_empty())
}

fn episode(e: &Entry, raw: RawItem) -> Option<(NewEpisode, Vec<TranscriptLink>)> {
    let title = e
        .title
        .as_ref()
        .map(|t| clean_text(&t.content))
        .unwrap_or_default();
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| sanitize::link(&l.href));
    let audio_url = raw
        .enclosure
        .as_deref()
        .and_then(sanitize::link)
        .or_else(|| media_audio(e));
    let duration_s = e
        .media
        .iter()
        .find_map(|m| {
            m.duration
                .or_else(|| m.content.iter().find_map(|c| c.duration))
        })
        .map(|d| d.as_secs() as i64);
    let published_at = e.published.or(e.updated);
    // Identity: the item's own guid; else the enclosure URL; else the link; else title + date.
    // An item with none of these (a bare title) is not an episode.
    let guid = raw
        .guid
        .filter(|g| !g.trim().is_empty())
        .or_else(|| (!e.id.is_empty()).then(|| e.id.clone()))
        .or_else(|| audio_url.clone())
        .or_else(|| link.clone())
        .or_else(|| match published_at {
            Some(p) if !title.is_empty() => Some(format!("{title} @ {}", p.date_naive())),
            _ => None,
        })?;
    let notes = show_notes(e);
    let mut transcripts = raw.transcripts;
    for m in &e.media {
        for t in &m.transcripts {
            let url = t.url.to_string();
            if !transcripts.iter().any(|x| x.url == url) {
                transcripts.push(TranscriptLink {
                    url,
                    kind: Some(t.content_type.to_string()),
                    language: t.language.clone(),
                });
            }
        }
    }
    Some((
        NewEpisode {
            guid,
            title: if title.is_empty() {
                "Untitled episode".into()
            } else {
                title
            },
            link,
            audio_url,
            published_at,
            duration_s,
            transcript_url: None,
            transcript_kind: None,
            show_notes: notes,
        },
        transcripts,
    ))
}

/// A soundbite being read: its attributes and the text so far.
struct OpenSoundbite {
    start: Option<String>,
    duration: Option<String>,
    text: String,
}

/// Reads each `<item>`/`<entry>`'s own `<guid>`/`<id>`, `<podcast:transcript>`,
/// `<podcast:chapters>`, `<podcast:soundbite>` and Podlove `<chapter>` elements.
fn scan_items(bytes: &[u8]) -> Vec<RawItem> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = false;
    let mut scan = ItemScan::default();
    let mut buf = Vec::new();
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Eof => break,
            Event::Start(ref s) => scan.start(s, false),
            Event::Empty(ref s) => scan.start(s, true),
            Event::Text(t) => scan.text(&t.xml10_content(), true),
            Event::CData(t) => scan.text(&t.xml10_content(), false),
            Event::GeneralRef(r) => scan.reference(&r),
            Event::End(e) => scan.end(e.name().local_name().as_ref()),
            _ => {}
        }
        buf.clear();
    }
    scan.items
}

/// The raw pass's state between events.
struct ItemScan {
    items: Vec<RawItem>,
    current: Option<RawItem>,
    depth_in_item: usize,
    in_guid: bool,
    bite: Option<OpenSoundbite>,
    /// Prefixes bound to the Podlove namespace ("psc" also when undeclared).
    podlove_prefixes: Vec<String>,
    /// How deep inside an element declaring Podlove as the default namespace the reader is (0:
    /// not inside one).
    podlove_default_depth: usize,
}

impl Default for ItemScan {
    fn default() -> Self {
        ItemScan {
            items: Vec::new(),
            current: None,
            depth_in_item: 0,
            in_guid: false,
            bite: None,
            podlove_prefixes: vec!["psc".into()],
            podlove_default_depth: 0,
        }
    }
}

/// Whether an element name opens an episode.
fn is_item(local: &str) -> bool {
    local == "item" || local == "entry"
}

impl ItemScan {
    /// A start (or empty) element.
    fn start(&mut self, s: &quick_xml::events::BytesStart<'_>, is_empty: bool) {
        let attr = |k: &str| {
            s.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == k)
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.trim().to_string())
                })
        };
        // Namespace declarations for Podlove chapters, wherever they are made.
        let mut declares_default = false;
        for a in s.attributes().flatten() {
            let key: &str = a.key.as_ref();
            if key.starts_with("xmlns") && a.value.trim() == PODLOVE_NS {
                match key.strip_prefix("xmlns:") {
                    Some(p) => self.podlove_prefixes.push(p.to_string()),
                    None => declares_default = key == "xmlns",
                }
            }
        }
        if !is_empty && (declares_default || self.podlove_default_depth > 0) {
            self.podlove_default_depth += 1;
        }
        let name = s.name();
        let qname: &str = name.as_ref();
        if self.current.is_none() && is_item(name.local_name().as_ref()) {
            if !is_empty {
                self.current = Some(RawItem::default());
                self.depth_in_item = 0;
            }
            return;
        }
        let Some(item) = self.current.as_mut() else {
            return;
        };
        if !is_empty {
            self.depth_in_item += 1;
        }
        if self.depth_in_item == 1 && (qname == "guid" || qname == "id") && !is_empty {
            self.in_guid = true;
        }
        let media_type = attr("type").unwrap_or_default();
        let playable = media_type.is_empty()
            || media_type.starts_with("audio")
            || media_type.starts_with("video");
        let enclosure = qname == "enclosure"
            || (qname.ends_with(":content") && self.depth_in_item == usize::from(!is_empty));
        if enclosure && playable && item.enclosure.is_none() {
            item.enclosure = attr("url").filter(|u| !u.is_empty());
        }
        let podlove = match qname.split_once(':').map(|(p, _)| p) {
            Some(p) => self.podlove_prefixes.iter().any(|x| x == p),
            None => self.podlove_default_depth > 0,
        };
        let podcast_ns = qname.starts_with("podcast");
        let local = name.local_name();
        self.marks(local.as_ref(), (podcast_ns, podlove), &attr, is_empty);
    }

    /// An item's transcript, chapters, soundbite or Podlove chapter element (whether it is in
    /// the podcast namespace, whether in Podlove's).
    fn marks(
        &mut self,
        local: &str,
        (podcast_ns, podlove): (bool, bool),
        attr: &dyn Fn(&str) -> Option<String>,
        is_empty: bool,
    ) {
        let Some(item) = self.current.as_mut() else {
            return;
        };
        match local {
            "transcript" if podcast_ns => {
                if let Some(url) = attr("url").filter(|u| !u.is_empty()) {
                    item.transcripts.push(TranscriptLink {
                        url,
                        kind: attr("type"),
                        language: attr("language"),
                    });
                }
            }
            "chapters" if podcast_ns && item.marks.chapters_url.is_none() => {
                item.marks.chapters_url = attr("url").filter(|u| !u.is_empty());
            }
            "soundbite" if podcast_ns => {
                let open = OpenSoundbite {
                    start: attr("startTime"),
                    duration: attr("duration"),
                    text: String::new(),
                };
                if is_empty {
                    push_soundbite(item, open);
                } else {
                    self.bite = Some(open);
                }
            }
            "chapter" if podlove => {
                if item.marks.chapters.len() < MAX_CHAPTERS
                    && let Some(c) =
                        podlove_chapter(attr("start").as_deref(), attr("title").as_deref())
                {
                    item.marks.chapters.push(c);
                }
            }
            _ => {}
        }
    }

    /// Text or CDATA (`escaped`: text, whose entities a guid unescapes).
    fn text(&mut self, raw: &str, escaped: bool) {
        if self.in_guid {
            if let Some(item) = self.current.as_mut() {
                let text = if escaped {
                    quick_xml::escape::unescape(raw)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| raw.to_string())
                } else {
                    raw.to_string()
                };
                item.guid
                    .get_or_insert_with(String::new)
                    .push_str(text.trim());
            }
        } else if let Some(b) = self.bite.as_mut() {
            b.text.push_str(raw);
        }
    }

    /// A character or entity reference (inside a soundbite's text).
    fn reference(&mut self, r: &quick_xml::events::BytesRef<'_>) {
        if let Some(b) = self.bite.as_mut() {
            match r.resolve_char_ref() {
                Ok(Some(c)) => b.text.push(c),
                _ => b
                    .text
                    .push_str(quick_xml::escape::resolve_predefined_entity(r).unwrap_or("")),
            }
        }
    }

    /// An end element, by its local name.
    fn end(&mut self, local: &str) {
        self.podlove_default_depth = self.podlove_default_depth.saturating_sub(1);
        if self.current.is_some() && self.depth_in_item == 0 && is_item(local) {
            self.items.extend(self.current.take());
            self.bite = None;
        } else if let Some(item) = self.current.as_mut() {
            self.depth_in_item = self.depth_in_item.saturating_sub(1);
            self.in_guid = false;
            if let Some(open) = self.bite.take() {
                push_soundbite(item, open);
            }
        }
    }
}

fn push_soundbite(item: &mut RawItem, open: OpenSoundbite) {
    if item.marks.soundbites.len() < MAX_SOUNDBITES
        && let Some(s) = soundbite(open.start.as_deref(), open.duration.as_deref(), &open.text)
    {
        item.marks.soundbites.push(s);
    }
}

/// Chooses the transcript to read: timed formats first (VTT, SRT, JSON), then HTML, then the rest.
pub fn choose_transcript<'a>(
    links: &'a [TranscriptLink],
    language: Option<&str>,
) -> Option<&'a TranscriptLink> {
    // The feed's language first ("en" matches "en-US"), then timed formats.
    let primary = |l: &str| {
        l.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let lang_rank = |t: &TranscriptLink| match (language, t.language.as_deref()) {
        (Some(want), Some(have)) if primary(want) == primary(have) => 0,
        (_, None) => 1,
        (None, Some(_)) => 1,
        _ => 2,
    };
    let rank = |t: &TranscriptLink| {
        let k = t.kind.as_deref().unwrap_or("").to_ascii_lowercase();
        if k.contains("vtt") {
            0
        } else if k.contains("srt") || k.contains("subrip") {
            1
        } else if k.contains("json") {
            2
        } else if k.contains("html") {
            3
        } else {
            4
        }
    };
    links.iter().min_by_key(|t| (lang_rank(t), rank(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>Test Show</title><link>https://example.com</link>
<item><title>One</title><guid isPermaLink="false">ep-1</guid>
  <enclosure url="https://example.com/1.mp3" type="audio/mpeg" length="1"/>
  <podcast:transcript url="t/1.vtt" type="text/vtt"/>
  <podcast:transcript url="t/1.txt" type="text/plain"/></item>
<item><title>Two</title><enclosure url="https://example.com/2.mp3" type="audio/mpeg" length="1"/></item>
</channel></rss>"#;

    #[test]
    fn guids_enclosures_and_relative_transcripts() {
        let f = parse_feed(FEED.as_bytes(), "test").unwrap();
        assert_eq!(f.podcast.title, "Test Show");
        let one = f.episodes.iter().find(|e| e.0.title == "One").unwrap();
        assert_eq!(one.0.guid, "ep-1");
        assert_eq!(one.1.len(), 2);
        assert_eq!(choose_transcript(&one.1, None).unwrap().url, "t/1.vtt");
        let two = f.episodes.iter().find(|e| e.0.title == "Two").unwrap();
        assert_eq!(two.0.guid, "https://example.com/2.mp3");
    }

    #[test]
    fn transcripts_in_the_feeds_language_come_first_then_timed_ones() {
        let link = |url: &str, kind: &str, lang: Option<&str>| TranscriptLink {
            url: url.into(),
            kind: Some(kind.into()),
            language: lang.map(String::from),
        };
        let links = vec![
            link("es.vtt", "text/vtt", Some("es")),
            link("en.html", "text/html", Some("en-US")),
            link("en.srt", "application/srt", Some("en")),
        ];
        assert_eq!(choose_transcript(&links, Some("en")).unwrap().url, "en.srt");
        assert_eq!(choose_transcript(&links, None).unwrap().url, "es.vtt");
    }

    #[test]
    fn chapters_links_podlove_chapters_and_soundbites() {
        let feed = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:sc="http://podlove.org/simple-chapters">
<channel><title>Marks</title>
<item><title>Json</title><guid>a</guid><pubDate>Tue, 03 Nov 2026 07:00:00 +0000</pubDate>
  <podcast:chapters url="chapters/a.json" type="application/json+chapters"/>
  <podcast:soundbite startTime="73.5" duration="30">Why tides &amp; lagoons &#x2014; matter</podcast:soundbite>
  <podcast:soundbite startTime="200" duration="15"/>
  <podcast:soundbite startTime="x" duration="15">unusable</podcast:soundbite>
</item>
<item><title>Podlove</title><guid>b</guid><pubDate>Tue, 10 Nov 2026 07:00:00 +0000</pubDate>
  <sc:chapters version="1.2">
    <sc:chapter start="00:02:00" title="Second"/>
    <sc:chapter start="00:00:00.000" title="First"/>
    <sc:chapter start="bad" title="Skipped"/>
  </sc:chapters>
</item>
<item><title>Default namespace</title><guid>c</guid><pubDate>Tue, 17 Nov 2026 07:00:00 +0000</pubDate>
  <chapters xmlns="http://podlove.org/simple-chapters"><chapter start="90" title="Only"/></chapters>
  <chapter start="100" title="Not Podlove"/>
</item>
</channel></rss>"#;
        let f = parse_feed(feed.as_bytes(), "x").unwrap();
        assert_eq!(f.marks.len(), f.episodes.len());
        let marks = |title: &str| {
            let i = f.episodes.iter().position(|e| e.0.title == title).unwrap();
            f.marks[i].clone()
        };
        let a = marks("Json");
        assert_eq!(a.chapters_url.as_deref(), Some("chapters/a.json"));
        assert!(a.chapters.is_empty());
        let bites: Vec<(i64, i64, Option<&str>)> = a
            .soundbites
            .iter()
            .map(|s| (s.start_ms, s.duration_ms, s.text.as_deref()))
            .collect();
        assert_eq!(
            bites,
            [
                (73_500, 30_000, Some("Why tides & lagoons \u{2014} matter")),
                (200_000, 15_000, None)
            ]
        );
        let b = marks("Podlove");
        let got: Vec<(i64, &str)> = b
            .chapters
            .iter()
            .map(|c| (c.start_ms, c.title.as_str()))
            .collect();
        assert_eq!(got, [(0, "First"), (120_000, "Second")]);
        assert_eq!(b.chapters_url, None);
        let c = marks("Default namespace");
        assert_eq!(c.chapters.len(), 1);
        assert_eq!(c.chapters[0].title, "Only");
    }

    #[test]
    fn undeclared_psc_prefix_still_reads_chapters() {
        let feed = r#"<rss><channel><title>T</title><item><title>I</title><guid>g</guid>
<psc:chapters><psc:chapter start="00:01:02.500" title="Waves"/></psc:chapters></item></channel></rss>"#;
        let f = parse_feed(feed.as_bytes(), "x").unwrap();
        assert_eq!(f.marks[0].chapters[0].start_ms, 62_500);
    }

    #[test]
    fn broken_feeds_are_errors() {
        assert!(parse_feed(b"<rss><channel><title>x</title><item><ti", "x").is_err());
    }

    /// Found by fuzzing: feed-rs panics on an `itunes:duration` of many digits.
    #[test]
    fn an_absurd_duration_costs_only_the_duration() {
        let item = |duration: &str| {
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\" \
                 xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel><title>T</title>\
                 <item><title>E</title><guid>e1</guid><enclosure url=\"https://example.com/e.mp3\" \
                 type=\"audio/mpeg\" length=\"1\"/><itunes:duration>{duration}</itunes:duration>\
                 </item></channel></rss>"
            )
        };
        for odd in [
            "44444444444444444444444444444444444:04:2#",
            "99999999999999999999999",
        ] {
            assert!(parse_strict(item(odd).as_bytes()).is_err(), "{odd}");
            let f = parse_feed(item(odd).as_bytes(), "x").unwrap_or_else(|e| panic!("{odd}: {e}"));
            assert_eq!(f.episodes.len(), 1, "{odd}");
            assert_eq!(f.episodes[0].0.title, "E");
        }
        assert!(without_fragile_values(item("1:02:03").as_bytes()).is_none());
    }

    /// Found by fuzzing: feed-rs panics on non-ASCII text after an e-mail in a person field.
    #[test]
    fn an_odd_author_costs_only_itself() {
        let mut feed = b"<?xml version=\"1.0\"?><rss version=\"2.0\" \
            xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel><title>T</title>\
            <itunes:author>Morag Innes and@YYYYYYYYYY.YYYYYYYYYYYYYYYYYYY"
            .to_vec();
        feed.extend([0xbc; 40]);
        feed.extend_from_slice(
            b"YYYY</itunes:author><item><title>E</title><guid>e1</guid></item></channel></rss>",
        );
        let feed = feed.as_slice();
        assert!(parse_strict(feed).is_err(), "feed-rs fails on it");
        let f = parse_feed(feed, "x").unwrap();
        assert_eq!(f.episodes.len(), 1);
        assert!(parse_feed(b"not xml at all", "x").is_err());
    }
}
