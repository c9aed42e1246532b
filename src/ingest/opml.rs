//! OPML, the file podcast apps move subscriptions with: import the feed URLs of every
//! `<outline xmlUrl=…>` (nested or not), export feeds as OPML 2.0.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::store::FeedRow;

/// Why an OPML file could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OpmlError {
    /// Not well-formed XML.
    #[error("not a valid OPML file: {0}")]
    Xml(String),
    /// No `<outline xmlUrl=…>` in it.
    #[error("the OPML file lists no feeds (no <outline xmlUrl=...>)")]
    Empty,
}

/// The feed URLs listed in an OPML document, in order, without duplicates.
pub fn parse_opml(bytes: &[u8]) -> Result<Vec<String>, OpmlError> {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut urls: Vec<String> = Vec::new();
    let mut saw_opml = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.name();
                let local_name = name.local_name();
                let local: &str = local_name.as_ref();
                if local.eq_ignore_ascii_case("opml") {
                    saw_opml = true;
                }
                if local.eq_ignore_ascii_case("outline") {
                    let url = e
                        .attributes()
                        .flatten()
                        .find(|a| AsRef::<str>::as_ref(&a.key).eq_ignore_ascii_case("xmlurl"))
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.trim().to_string())
                        });
                    if let Some(u) = url.filter(|u| !u.is_empty())
                        && !urls.contains(&u)
                    {
                        urls.push(u);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                return Err(OpmlError::Xml(format!(
                    "at byte {}: {e}",
                    reader.buffer_position()
                )));
            }
        }
        buf.clear();
    }
    if !saw_opml && urls.is_empty() {
        return Err(OpmlError::Xml("no <opml> element".into()));
    }
    if urls.is_empty() {
        return Err(OpmlError::Empty);
    }
    Ok(urls)
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Feeds as an OPML 2.0 document.
pub fn export_opml(feeds: &[FeedRow]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>podbrief feeds</title></head>\n  <body>\n",
    );
    for f in feeds {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\"/>\n",
            escape_attr(&f.title),
            escape_attr(&f.title),
            escape_attr(&f.feed_url)
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(url: &str, title: &str) -> FeedRow {
        FeedRow {
            id: 1,
            feed_url: url.into(),
            title: title.into(),
            failures: 0,
            last_error: None,
            disabled_reason: None,
            etag: None,
            last_modified: None,
            next_poll_at: None,
            episodes: 0,
        }
    }

    #[test]
    fn round_trip_keeps_every_feed() {
        let feeds = vec![
            row("https://a.example/feed?x=1&y=2", "A & \"B\""),
            row("https://b.example/rss", "<B>"),
        ];
        let opml = export_opml(&feeds);
        assert_eq!(
            parse_opml(opml.as_bytes()).unwrap(),
            ["https://a.example/feed?x=1&y=2", "https://b.example/rss"]
        );
    }

    #[test]
    fn nested_outlines_and_bad_files() {
        let nested = r#"<opml version="1.1"><body><outline text="Tech"><outline xmlUrl="https://x.example/1"/>
            <outline XMLURL="https://x.example/2"/></outline></body></opml>"#;
        assert_eq!(parse_opml(nested.as_bytes()).unwrap().len(), 2);
        assert_eq!(
            parse_opml(b"<opml><body></body></opml>"),
            Err(OpmlError::Empty)
        );
        assert!(matches!(parse_opml(b"hello"), Err(OpmlError::Xml(_))));
    }
}
