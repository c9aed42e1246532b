//! Replies as Discord messages: the reply text as content, one embed per insight card (insight as
//! description, podcast and episode as title and link, speaker and timestamp in the footer), and a
//! "More like this" button per card; every piece of third-party text escaped, and every message
//! within Discord's limits (title 256, description 4096, footer 2048, content 2000, 10 embeds and
//! 6000 embed characters per message, 5 rows of 5 buttons). Mentions never ping: every message
//! carries an empty `allowed_mentions`.

use serenity::all::{
    ButtonStyle, Colour, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateMessage, EditInteractionResponse,
};

use crate::core::model::{Card, Reply, format_timestamp};

/// Longest message content.
pub const MAX_CONTENT: usize = 2000;
/// Longest embed title.
pub const MAX_TITLE: usize = 256;
/// Longest embed description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Longest embed footer.
pub const MAX_FOOTER: usize = 2048;
/// Most embeds in one message.
pub const MAX_EMBEDS: usize = 10;
/// Most characters over all embeds of one message.
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Longest insight text shown on a card (so several cards fit in one message).
const MAX_CARD_TEXT: usize = 1500;
/// Longest quote shown under a takeaway.
const MAX_CARD_QUOTE: usize = 600;
/// Buttons per action row, and rows per message.
const BUTTONS_PER_ROW: usize = 5;

/// The colour of insight embeds.
const COLOUR: Colour = Colour(0x2b_8a_6e);

/// One insight card as an embed, in plain parts (so limits can be checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedParts {
    /// "Podcast · Episode", escaped.
    pub title: String,
    /// The episode link, when it is an http(s) URL.
    pub url: Option<String>,
    /// The insight, escaped.
    pub description: String,
    /// Speaker, time in the episode and insight number.
    pub footer: String,
}

impl EmbedParts {
    /// The characters Discord counts towards the 6000 per message.
    pub fn len(&self) -> usize {
        count(&self.title) + count(&self.description) + count(&self.footer)
    }

    /// Whether the embed has no text at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn build(&self) -> CreateEmbed {
        let mut e = CreateEmbed::new()
            .title(self.title.clone())
            .description(self.description.clone())
            .colour(COLOUR);
        if let Some(u) = &self.url {
            e = e.url(u.clone());
        }
        if !self.footer.is_empty() {
            e = e.footer(CreateEmbedFooter::new(self.footer.clone()));
        }
        e
    }
}

/// A "More like this" button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoreButton {
    /// The label shown.
    pub label: String,
    /// `more:{insight id}`.
    pub custom_id: String,
}

/// One Discord message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// The message text (escaped), possibly empty when there are embeds.
    pub content: String,
    /// One embed per card.
    pub embeds: Vec<EmbedParts>,
    /// One button per card.
    pub buttons: Vec<MoreButton>,
}

impl Rendered {
    fn rows(&self) -> Vec<CreateActionRow> {
        self.buttons
            .chunks(BUTTONS_PER_ROW)
            .map(|row| {
                CreateActionRow::Buttons(
                    row.iter()
                        .map(|b| {
                            CreateButton::new(b.custom_id.clone())
                                .label(b.label.clone())
                                .style(ButtonStyle::Secondary)
                        })
                        .collect(),
                )
            })
            .collect()
    }

    fn embeds(&self) -> Vec<CreateEmbed> {
        self.embeds.iter().map(EmbedParts::build).collect()
    }

    /// As a channel message with no mentions allowed and the nonce enforced (the nonce itself
    /// is added per send: see [`MessageBody`]).
    fn to_message(&self) -> CreateMessage {
        let mut m = CreateMessage::new()
            .embeds(self.embeds())
            .components(self.rows())
            .allowed_mentions(no_mentions())
            .enforce_nonce(true);
        if !self.content.is_empty() {
            m = m.content(self.content.clone());
        }
        m
    }

    /// As the response to an interaction.
    pub fn to_response(&self, ephemeral: bool) -> CreateInteractionResponseMessage {
        let mut m = CreateInteractionResponseMessage::new()
            .embeds(self.embeds())
            .components(self.rows())
            .allowed_mentions(no_mentions())
            .ephemeral(ephemeral);
        if !self.content.is_empty() {
            m = m.content(self.content.clone());
        }
        m
    }

    /// As an edit of a deferred interaction response.
    pub fn to_edit(&self) -> EditInteractionResponse {
        EditInteractionResponse::new()
            .content(self.content.clone())
            .embeds(self.embeds())
            .components(self.rows())
            .allowed_mentions(no_mentions())
    }

    /// As a follow-up message of an interaction.
    pub fn to_followup(&self, ephemeral: bool) -> CreateInteractionResponseFollowup {
        let mut m = CreateInteractionResponseFollowup::new()
            .embeds(self.embeds())
            .components(self.rows())
            .allowed_mentions(no_mentions())
            .ephemeral(ephemeral);
        if !self.content.is_empty() {
            m = m.content(self.content.clone());
        }
        m
    }
}

/// Mentions that may ping: none.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

fn count(s: &str) -> usize {
    s.chars().count()
}

/// Escapes Discord markdown, and breaks `@everyone`/`@here` so they read as text even where
/// `allowed_mentions` does not apply.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s
        .chars()
        .filter(|c| !crate::core::sanitize::is_unsafe_char(*c))
    {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']'
        ) {
            out.push('\\');
        }
        out.push(c);
        if c == '@' {
            out.push('\u{200B}');
        }
    }
    out
}

/// Escapes `s` and cuts it, at a character boundary and never inside an escape, so the result
/// has at most `max` characters (an ellipsis marks a cut).
pub fn fit(s: &str, max: usize, escaped: bool) -> String {
    let full = if escaped { escape(s) } else { s.to_string() };
    if count(&full) <= max {
        return full;
    }
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        let piece = if escaped {
            escape(&c.to_string())
        } else {
            c.to_string()
        };
        let len = count(&piece);
        if n + len + 1 > max {
            break;
        }
        out.push_str(&piece);
        n += len;
    }
    let mut out = out.trim_end().to_string();
    // A trailing lone backslash would escape the ellipsis.
    if out.ends_with('\\') && !out.ends_with("\\\\") {
        out.pop();
    }
    out.push('…');
    out
}

fn web_link(link: Option<&str>) -> Option<String> {
    let link = link?.trim();
    let u = url::Url::parse(link).ok()?;
    (matches!(u.scheme(), "http" | "https") && link.len() <= 2048).then(|| u.to_string())
}

/// One card as an embed (its title links to the episode).
pub fn card_embed(c: &Card) -> EmbedParts {
    card_embed_with(c, "")
}

/// One card as an embed; with a `public_url`, its title links to the insight's page.
pub fn card_embed_with(c: &Card, public_url: &str) -> EmbedParts {
    numbered_card_embed(c, public_url, None)
}

/// One card as an embed, its title opening with `number` (as its button reads) when given.
fn numbered_card_embed(c: &Card, public_url: &str, number: Option<usize>) -> EmbedParts {
    let mut title = format!("{} · {}", c.podcast.trim(), c.episode.trim());
    if let Some(n) = number {
        title = format!("{n}. {title}");
    }
    if let Some(ch) = &c.chapter {
        title.push_str(&format!(" · {}", ch.trim()));
    }
    let mut footer = Vec::new();
    if let Some(s) = c.speaker.as_deref().filter(|s| !s.trim().is_empty()) {
        footer.push(s.trim().to_string());
    }
    if let Some(ms) = c.start_ms {
        footer.push(format!("at {}", format_timestamp(ms)));
    }
    footer.push(format!("#{}", c.insight_id));
    EmbedParts {
        title: fit(&title, MAX_TITLE, true),
        url: crate::web::insight_url(public_url, c.insight_id)
            .or_else(|| web_link(c.link.as_deref())),
        description: card_description(c),
        footer: fit(&footer.join(" · "), MAX_FOOTER, false),
    }
}

/// The takeaway, then the speaker's words in italics when they say more (the footer gives who
/// and when).
fn card_description(c: &Card) -> String {
    let text = fit(&c.text, MAX_CARD_TEXT.min(MAX_DESCRIPTION), true);
    match c.shown_quote() {
        Some(q) => format!("{text}\n*“{}”*", fit(q, MAX_CARD_QUOTE, true)),
        None => text,
    }
}

fn button(number: usize, c: &Card, alone: bool) -> MoreButton {
    MoreButton {
        label: if alone {
            "More like this".into()
        } else {
            format!("More like {number}")
        },
        custom_id: format!("more:{}", c.insight_id),
    }
}

/// A message serialized once (a fan-out sends one brief to many channels), then sent to each
/// with a nonce of its own that Discord enforces: a resend with the same nonce is dropped.
#[derive(Debug, Clone)]
pub struct MessageBody {
    /// The message as a JSON object (`enforce_nonce` true), without the nonce.
    json: Vec<u8>,
}

impl MessageBody {
    /// Serializes a rendered message.
    pub fn new(m: &Rendered) -> Result<MessageBody, serde_json::Error> {
        Ok(MessageBody {
            json: serde_json::to_vec(&m.to_message())?,
        })
    }

    /// The request body: the message with `nonce`.
    pub fn with_nonce(&self, nonce: &str) -> Vec<u8> {
        let nonce = serde_json::Value::from(nonce).to_string();
        let rest = self.json.strip_prefix(b"{").unwrap_or(&self.json);
        let mut body = Vec::with_capacity(self.json.len() + nonce.len() + 16);
        body.extend_from_slice(b"{\"nonce\":");
        body.extend_from_slice(nonce.as_bytes());
        if rest != b"}" {
            body.push(b',');
        }
        body.extend_from_slice(rest);
        body
    }
}

/// Renders a reply into one or more messages, each within Discord's limits; the text goes in the
/// first one, cards fill messages in order.
pub fn render(reply: &Reply) -> Vec<Rendered> {
    render_with(reply, "")
}

/// Like [`render`], with card titles linking to insight pages under `public_url` (if not empty).
pub fn render_with(reply: &Reply, public_url: &str) -> Vec<Rendered> {
    let mut messages = Vec::new();
    let mut current = Rendered {
        content: fit(reply.text.trim(), MAX_CONTENT, true),
        ..Rendered::default()
    };
    let alone = reply.cards.len() == 1;
    for (i, c) in reply.cards.iter().enumerate() {
        let embed = numbered_card_embed(c, public_url, (!alone).then_some(i + 1));
        let total: usize = current.embeds.iter().map(EmbedParts::len).sum();
        if !current.embeds.is_empty()
            && (current.embeds.len() == MAX_EMBEDS || total + embed.len() > MAX_EMBED_TOTAL)
        {
            messages.push(std::mem::take(&mut current));
        }
        current.embeds.push(embed);
        current.buttons.push(button(i + 1, c, alone));
    }
    if current.content.is_empty() && current.embeds.is_empty() {
        current.content = "…".into();
    }
    messages.push(current);
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
            podcast: "Fish *and* Chips".into(),
            episode: "Ep_1".into(),
            chapter: None,
            link: Some("https://example.com/ep?a=1".into()),
            start_ms: Some(75_000),
            speaker: Some("Ann".into()),
            topics: vec![],
        }
    }

    #[test]
    fn cards_become_escaped_embeds_with_buttons() {
        let r = render(&Reply {
            text: "Related to \"**x**\":".into(),
            cards: vec![card(7, "@everyone look: `code` and <@123>")],
        });
        assert_eq!(r.len(), 1);
        let m = &r[0];
        assert_eq!(m.content, "Related to \"\\*\\*x\\*\\*\":");
        let e = &m.embeds[0];
        assert_eq!(e.title, "Fish \\*and\\* Chips · Ep\\_1");
        assert_eq!(e.url.as_deref(), Some("https://example.com/ep?a=1"));
        assert!(e.description.contains("@\u{200B}everyone"));
        assert!(
            e.description.contains("\\`code\\`") && e.description.contains("\\<@\u{200B}123\\>")
        );
        assert_eq!(e.footer, "Ann · at 1:15 · #7");
        assert_eq!(
            m.buttons,
            vec![MoreButton {
                label: "More like this".into(),
                custom_id: "more:7".into()
            }]
        );
        let body = MessageBody::new(m).unwrap().with_nonce("abc");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text.matches("\"nonce\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"enforce_nonce\"").count(), 1, "{text}");
        assert_eq!(json["nonce"], "abc");
        assert_eq!(json["enforce_nonce"], true);
        assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    #[test]
    fn long_replies_split_within_limits() {
        let long = "wörd ".repeat(2000);
        let mut cards: Vec<Card> = (1..=25).map(|i| card(i, &long)).collect();
        cards[3].podcast = "P".repeat(400);
        cards[4].link = Some("javascript:alert(1)".into());
        let r = render(&Reply {
            text: "x".repeat(5000),
            cards,
        });
        assert!(r.len() > 1);
        let mut n = 0;
        for m in &r {
            assert!(count(&m.content) <= MAX_CONTENT);
            assert!(m.embeds.len() <= MAX_EMBEDS);
            assert!(m.embeds.iter().map(EmbedParts::len).sum::<usize>() <= MAX_EMBED_TOTAL);
            for e in &m.embeds {
                assert!(count(&e.title) <= MAX_TITLE);
                assert!(count(&e.description) <= MAX_DESCRIPTION);
                assert!(count(&e.footer) <= MAX_FOOTER);
            }
            assert_eq!(m.buttons.len(), m.embeds.len());
            assert!(m.buttons.len() <= 25);
            n += m.embeds.len();
        }
        assert_eq!(n, 25, "every card is sent");
        let all: Vec<&EmbedParts> = r.iter().flat_map(|m| &m.embeds).collect();
        assert!(
            all[4].url.is_none() && all[3].url.is_some(),
            "only web links"
        );
        assert!(all[3].title.chars().count() <= MAX_TITLE);
    }

    #[test]
    fn cutting_never_leaves_a_dangling_escape() {
        let s = fit("ab*cd*ef", 5, true);
        assert!(count(&s) <= 5, "{s}");
        assert!(s.ends_with('…') && !s.ends_with("\\…"), "{s}");
        assert_eq!(render(&Reply::default())[0].content, "…");
    }
}
