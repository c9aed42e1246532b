//! Replies as Telegram HTML messages: every piece of third-party text escaped, one message per
//! reply when it fits in 4096 characters, split at card boundaries when it does not, and a
//! "More like this" button per card.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::core::model::{Card, Reply, format_timestamp};

/// Telegram's limit on a message's text after entity parsing, in UTF-16 code units.
pub const MAX_MESSAGE: usize = 4096;

/// Longest insight text shown on a card; longer ones are cut with an ellipsis.
const MAX_CARD_TEXT: usize = 1200;
/// Longest quote shown under a takeaway.
const MAX_CARD_QUOTE: usize = 600;

/// One message to send: HTML text and its buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// HTML (parse mode HTML).
    pub html: String,
    /// "More like this" buttons for the cards in this message.
    pub keyboard: Option<InlineKeyboardMarkup>,
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    let s = crate::core::sanitize::text(s);
    let mut rest = &*s;
    // Copies the runs between special characters whole.
    while let Some(i) = rest.find(['&', '<', '>', '"']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&quot;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

/// The length Telegram counts: the text without tags, entities as one character, in UTF-16.
pub fn visible_len(html: &str) -> usize {
    let mut n = 0;
    let mut in_tag = false;
    let mut in_entity = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '&' => {
                in_entity = true;
                n += 1;
            }
            ';' if in_entity => in_entity = false,
            _ if in_entity => {}
            _ => n += c.len_utf16(),
        }
    }
    n
}

fn truncate(s: &str, max: usize) -> String {
    // Fewer bytes than `max` means fewer characters too.
    if s.len() <= max || s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

fn card_html(n: usize, c: &Card, public_url: &str) -> String {
    let mut by = String::new();
    if let Some(s) = &c.speaker {
        by.push_str(&format!("<i>{}</i>, ", escape(s)));
    }
    let mut title = format!("{} · {}", escape(&c.podcast), escape(&c.episode));
    if let Some(ch) = &c.chapter {
        title.push_str(&format!(" · {}", escape(ch)));
    }
    // The title opens the insight's page when there are pages, else the episode.
    let page = crate::web::insight_url(public_url, c.insight_id);
    match page
        .as_deref()
        .or(c.link.as_deref())
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
    {
        Some(link) => by.push_str(&format!("<a href=\"{}\">{title}</a>", escape(link))),
        None => by.push_str(&title),
    }
    if let Some(ms) = c.start_ms {
        by.push_str(&format!(" at {}", format_timestamp(ms)));
    }
    // The insight's id, as every platform shows it (`/more <id>`).
    by.push_str(&format!(" · #{}", c.insight_id));
    // The takeaway, then the speaker's words when they say more (the by-line gives who and when).
    let quote = c
        .shown_quote()
        .map(|q| format!("\n<i>“{}”</i>", escape(&truncate(q, MAX_CARD_QUOTE))))
        .unwrap_or_default();
    format!(
        "<b>{n}.</b> {}{quote}\n— {by}",
        escape(&truncate(&c.text, MAX_CARD_TEXT))
    )
}

fn keyboard(cards: &[(usize, &Card)]) -> Option<InlineKeyboardMarkup> {
    if cards.is_empty() {
        return None;
    }
    let buttons: Vec<InlineKeyboardButton> = cards
        .iter()
        .map(|(n, c)| {
            let label = if cards.len() == 1 {
                "More like this".to_string()
            } else {
                format!("More like {n}")
            };
            InlineKeyboardButton::callback(label, format!("more:{}", c.insight_id))
        })
        .collect();
    Some(InlineKeyboardMarkup::new(
        buttons.chunks(5).map(|row| row.to_vec()),
    ))
}

/// Renders a reply into one or more messages, each within Telegram's limit.
pub fn render(reply: &Reply) -> Vec<Rendered> {
    render_with(reply, "")
}

/// Like [`render`], with card titles linking to their insight pages under `public_url`
/// (`http.public_url`; empty for no pages).
pub fn render_with(reply: &Reply, public_url: &str) -> Vec<Rendered> {
    let mut messages = Vec::new();
    let mut html = escape(&truncate(&reply.text, 1000));
    // The visible length of `html`, kept as blocks are added.
    let mut len = visible_len(&html);
    let mut cards_here: Vec<(usize, &Card)> = Vec::new();
    for (i, c) in reply.cards.iter().enumerate() {
        let block = card_html(i + 1, c, public_url);
        let block_len = visible_len(&block);
        if !html.is_empty() && len + 2 + block_len > MAX_MESSAGE {
            messages.push(Rendered {
                html: std::mem::take(&mut html),
                keyboard: keyboard(&cards_here),
            });
            cards_here.clear();
            len = 0;
        }
        if !html.is_empty() {
            html.push_str("\n\n");
            len += 2;
        }
        html.push_str(&block);
        len += block_len;
        cards_here.push((i + 1, c));
    }
    if !html.is_empty() {
        messages.push(Rendered {
            html,
            keyboard: keyboard(&cards_here),
        });
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: i64, text: &str) -> Card {
        Card {
            insight_id: id,
            text: text.into(),
            quote: text.into(),
            podcast: "Fish & <Chips>".into(),
            episode: "\"Ep\"".into(),
            chapter: Some("Q&A".into()),
            link: Some("https://example.com/?a=1&b=2".into()),
            start_ms: Some(75_000),
            speaker: Some("Ann".into()),
            topics: vec![],
        }
    }

    #[test]
    fn third_party_text_is_escaped() {
        let r = render(&Reply {
            text: "Related to \"<b>&\"".into(),
            cards: vec![card(7, "1 < 2 & 3 > 2 🎉")],
        });
        assert_eq!(r.len(), 1);
        let h = &r[0].html;
        assert!(
            h.starts_with("Related to &quot;&lt;b&gt;&amp;&quot;"),
            "{h}"
        );
        assert!(h.contains("1 &lt; 2 &amp; 3 &gt; 2 🎉"));
        assert!(h.contains("<a href=\"https://example.com/?a=1&amp;b=2\">Fish &amp; &lt;Chips&gt; · &quot;Ep&quot; · Q&amp;A</a> at 1:15 · #7"));
        let kb = r[0].keyboard.as_ref().unwrap();
        assert_eq!(kb.inline_keyboard[0].len(), 1);
    }

    #[test]
    fn card_titles_link_to_insight_pages_when_there_are_pages() {
        let reply = Reply {
            text: "Top".into(),
            cards: vec![card(7, "text")],
        };
        let h = &render_with(&reply, "https://pb.example.com/")[0].html;
        assert!(
            h.contains("<a href=\"https://pb.example.com/i/7\">Fish &amp; &lt;Chips&gt; · &quot;Ep&quot; · Q&amp;A</a>"),
            "{h}"
        );
        let h = &render_with(&reply, "")[0].html;
        assert!(
            h.contains("<a href=\"https://example.com/?a=1&amp;b=2\">"),
            "{h}"
        );
    }

    #[test]
    fn long_replies_split_at_card_boundaries() {
        let long = "word ".repeat(230);
        let cards: Vec<Card> = (1..=10).map(|i| card(i, &long)).collect();
        let r = render(&Reply {
            text: "Brief".into(),
            cards,
        });
        assert!(r.len() > 1);
        let mut n = 0;
        for m in &r {
            assert!(visible_len(&m.html) <= MAX_MESSAGE);
            n += m
                .keyboard
                .as_ref()
                .map_or(0, |k| k.inline_keyboard.iter().map(Vec::len).sum());
        }
        assert_eq!(n, 10, "every card keeps its button");
    }
}
