//! Chat text to platform-neutral [`Command`]s.
//!
//! Every adapter turns what a user typed (or a slash-command's options) into a [`Command`]; the
//! handler never sees platform syntax. Parsing never fails loudly: bad arguments become a
//! [`CommandError`] whose message tells the user the right usage.

use crate::core::schedule::{parse_hhmm, parse_timezone};
use crate::core::text::normalize_topic;

/// The largest brief a chat may ask for.
pub const MAX_BRIEF_SIZE: u8 = 10;

/// What a user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/start`: a welcome and how to subscribe.
    Start,
    /// `/help`: every command.
    Help,
    /// `/subscribe [HH:MM] [Area/City]`.
    Subscribe {
        /// Local time of day, `HH:MM`; the configured default when absent.
        time: Option<String>,
        /// IANA timezone; the configured default when absent.
        timezone: Option<String>,
    },
    /// `/unsubscribe`.
    Unsubscribe,
    /// `/settings`: this chat's subscription.
    Settings,
    /// `/topics ai, chips, -crypto`; empty shows them, `/topics clear` removes them.
    Topics(TopicsArg),
    /// `/size N`: insights per brief.
    Size(u8),
    /// `/time HH:MM [Area/City]`: when the brief comes.
    Time {
        /// Local time of day, `HH:MM`.
        time: String,
        /// IANA timezone; unchanged when absent.
        timezone: Option<String>,
    },
    /// `/top`: today's top insights.
    Top,
    /// `/related X` or "related to X".
    Related(String),
    /// `/more ID`: insights related to insight ID.
    More(i64),
    /// `/feeds`, `/feeds add URL`, `/feeds remove URL` (operators only).
    Feeds(FeedsArg),
}

/// The argument of `/feeds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedsArg {
    /// List the feeds and their state.
    List,
    /// Add a feed by URL.
    Add(String),
    /// Remove a feed by URL.
    Remove(String),
}

/// The argument of `/topics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicsArg {
    /// Show the current topics.
    Show,
    /// Remove every topic filter.
    Clear,
    /// Replace the topics: plain ones are preferred, `-topic` ones excluded.
    Set(Vec<String>),
}

/// A command that was recognised but could not be understood; the message is for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Wrong or missing arguments.
    #[error("{problem}\nUsage: {usage}")]
    Usage {
        /// What was wrong.
        problem: String,
        /// The correct usage.
        usage: &'static str,
    },
    /// A command podbrief does not know.
    #[error("I don't know the command /{0}. Send /help to see what I can do.")]
    Unknown(String),
}

/// How to read a message.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseContext<'a> {
    /// The bot's own username: `/top@this_bot` is for us, `/top@other_bot` is ignored.
    pub bot_username: Option<&'a str>,
    /// Whether any plain text is a lookup (private chats, the console), or only "related to X".
    pub plain_text_is_lookup: bool,
}

/// Usage lines, one per command, shown by `/help`.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/top", "today's top insights"),
    (
        "/related <words>",
        "insights related to something (or just write \"related to <words>\")",
    ),
    ("/more <id>", "more insights like insight <id>"),
    ("/subscribe [HH:MM] [Area/City]", "get the daily brief here"),
    ("/unsubscribe", "stop the daily brief"),
    ("/settings", "this chat's subscription"),
    ("/time HH:MM [Area/City]", "change when the brief comes"),
    ("/size N", "insights per brief (1-10)"),
    (
        "/topics ai, chips, -crypto",
        "prefer or exclude topics (/topics clear to reset)",
    ),
    ("/feeds [add|remove URL]", "the feed list (operators only)"),
    ("/help", "this list"),
];

const SUBSCRIBE_USAGE: &str = "/subscribe [HH:MM] [Area/City], e.g. /subscribe 08:00 Europe/Berlin";
const TIME_USAGE: &str = "/time HH:MM [Area/City], e.g. /time 07:30 Asia/Tokyo";
const SIZE_USAGE: &str = "/size N, with N from 1 to 10";
const RELATED_USAGE: &str = "/related <words>, e.g. /related chip exports";
const FEEDS_USAGE: &str = "/feeds, /feeds add URL or /feeds remove URL";
const MORE_USAGE: &str = "/more <id>, with the id shown under an insight";

impl Command {
    /// Parses one chat message. `Ok(None)` means the message is not for the bot.
    pub fn parse(text: &str, ctx: ParseContext<'_>) -> Result<Option<Command>, CommandError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Ok(parse_plain(text, ctx.plain_text_is_lookup));
        };
        let (head, args) = match rest.find(char::is_whitespace) {
            Some(i) => (&rest[..i], rest[i..].trim()),
            None => (rest, ""),
        };
        let (name, addressee) = match head.split_once('@') {
            Some((n, a)) => (n, Some(a)),
            None => (head, None),
        };
        if let (Some(addressee), Some(me)) = (addressee, ctx.bot_username)
            && !addressee.eq_ignore_ascii_case(me)
        {
            return Ok(None);
        }
        let name = name.to_ascii_lowercase();
        let cmd = match name.as_str() {
            "start" => Command::Start,
            "help" => Command::Help,
            "subscribe" => {
                let (time, timezone) = parse_time_and_zone(args, SUBSCRIBE_USAGE)?;
                Command::Subscribe { time, timezone }
            }
            "unsubscribe" | "stop" => Command::Unsubscribe,
            "settings" => Command::Settings,
            "topics" => Command::Topics(parse_topics(args)),
            "size" => Command::Size(parse_size(args)?),
            "time" => match parse_time_and_zone(args, TIME_USAGE)? {
                (Some(time), timezone) => Command::Time { time, timezone },
                (None, _) => return Err(usage("Which time?", TIME_USAGE)),
            },
            "top" | "brief" => Command::Top,
            "related" | "search" => {
                if args.is_empty() {
                    return Err(usage("Related to what?", RELATED_USAGE));
                }
                Command::Related(args.to_string())
            }
            "more" => match args.trim_start_matches('#').parse::<i64>() {
                Ok(id) if id > 0 => Command::More(id),
                _ => return Err(usage("Which insight?", MORE_USAGE)),
            },
            "feeds" => {
                let mut words = args.split_whitespace();
                match (
                    words.next().map(str::to_ascii_lowercase).as_deref(),
                    words.next(),
                    words.next(),
                ) {
                    (None, _, _) | (Some("list"), None, _) => Command::Feeds(FeedsArg::List),
                    (Some("add"), Some(url), None) => {
                        Command::Feeds(FeedsArg::Add(url.to_string()))
                    }
                    (Some("remove"), Some(url), None) => {
                        Command::Feeds(FeedsArg::Remove(url.to_string()))
                    }
                    _ => return Err(usage("What should I do with the feeds?", FEEDS_USAGE)),
                }
            }
            "" => return Ok(None),
            other => return Err(CommandError::Unknown(other.chars().take(32).collect())),
        };
        Ok(Some(cmd))
    }
}

fn usage(problem: impl Into<String>, usage: &'static str) -> CommandError {
    CommandError::Usage {
        problem: problem.into(),
        usage,
    }
}

fn parse_plain(text: &str, any_text: bool) -> Option<Command> {
    let lower = text.to_lowercase();
    for prefix in ["related to ", "related: ", "related "] {
        if lower.starts_with(prefix) {
            let q = text[prefix.len()..].trim().trim_end_matches('?').trim();
            return (!q.is_empty()).then(|| Command::Related(q.to_string()));
        }
    }
    if !any_text {
        return None;
    }
    let q = text.trim_end_matches('?').trim();
    (!q.is_empty()).then(|| Command::Related(q.to_string()))
}

fn parse_time_and_zone(
    args: &str,
    usage_line: &'static str,
) -> Result<(Option<String>, Option<String>), CommandError> {
    let mut time = None;
    let mut zone = None;
    for word in args.split_whitespace() {
        if word.contains(':') && word.len() <= 5 && word.starts_with(|c: char| c.is_ascii_digit()) {
            if parse_hhmm(word).is_none() {
                return Err(usage(
                    format!("{word} is not a time of day (00:00 to 23:59)."),
                    usage_line,
                ));
            }
            time = Some(word.to_string());
        } else if let Ok(tz) = parse_timezone(word) {
            zone = Some(tz.name().to_string());
        } else {
            return Err(usage(
                format!(
                    "{word:?} is neither a time (HH:MM) nor an IANA timezone (Area/City, e.g. Europe/Paris)."
                ),
                usage_line,
            ));
        }
    }
    Ok((time, zone))
}

fn parse_size(args: &str) -> Result<u8, CommandError> {
    match args.parse::<u8>() {
        Ok(n) if (1..=MAX_BRIEF_SIZE).contains(&n) => Ok(n),
        _ if args.is_empty() => Err(usage("How many insights per brief?", SIZE_USAGE)),
        _ => Err(usage(
            format!("{args:?} is not a number from 1 to 10."),
            SIZE_USAGE,
        )),
    }
}

fn parse_topics(args: &str) -> TopicsArg {
    let a = args.trim();
    if a.is_empty() {
        return TopicsArg::Show;
    }
    if ["clear", "none", "reset", "all"].contains(&a.to_lowercase().as_str()) {
        return TopicsArg::Clear;
    }
    let mut topics: Vec<String> = Vec::new();
    for raw in a.split([',', ';']) {
        let raw = raw.trim();
        let (neg, word) = match raw.strip_prefix('-') {
            Some(w) => (true, w),
            None => (false, raw.strip_prefix('+').unwrap_or(raw)),
        };
        let t = normalize_topic(word);
        if t.is_empty() {
            continue;
        }
        let t = if neg { format!("-{t}") } else { t };
        if !topics.contains(&t) && topics.len() < 20 {
            topics.push(t);
        }
    }
    if topics.is_empty() {
        TopicsArg::Clear
    } else {
        TopicsArg::Set(topics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Option<Command>, CommandError> {
        Command::parse(
            s,
            ParseContext {
                bot_username: Some("podbrief_bot"),
                plain_text_is_lookup: false,
            },
        )
    }

    #[test]
    fn commands_and_arguments() {
        assert_eq!(p("/top").unwrap(), Some(Command::Top));
        assert_eq!(p("/top@podbrief_bot").unwrap(), Some(Command::Top));
        assert_eq!(p("/top@otherbot").unwrap(), None);
        assert_eq!(
            p("/subscribe 07:30 Asia/Tokyo").unwrap(),
            Some(Command::Subscribe {
                time: Some("07:30".into()),
                timezone: Some("Asia/Tokyo".into())
            })
        );
        assert_eq!(
            p("/subscribe").unwrap(),
            Some(Command::Subscribe {
                time: None,
                timezone: None
            })
        );
        assert_eq!(p("/size 3").unwrap(), Some(Command::Size(3)));
        assert_eq!(p("/more 42").unwrap(), Some(Command::More(42)));
        assert_eq!(
            p("/topics AI, Chips, -crypto").unwrap(),
            Some(Command::Topics(TopicsArg::Set(vec![
                "ai".into(),
                "chip".into(),
                "-crypto".into()
            ])))
        );
        assert_eq!(
            p("related to chip exports?").unwrap(),
            Some(Command::Related("chip exports".into()))
        );
        assert_eq!(p("hello there").unwrap(), None);
    }

    #[test]
    fn bad_arguments_explain_usage() {
        let e = p("/size 0").unwrap_err().to_string();
        assert!(e.contains("from 1 to 10"), "{e}");
        let e = p("/subscribe 08:00 Europe/Berln").unwrap_err().to_string();
        assert!(
            e.contains("Europe/Berln") && e.contains("Usage: /subscribe"),
            "{e}"
        );
        let e = p("/subscribe 25:00").unwrap_err().to_string();
        assert!(e.contains("25:00"), "{e}");
        assert!(matches!(p("/frobnicate"), Err(CommandError::Unknown(_))));
        assert!(p("/related").is_err());
    }
}
