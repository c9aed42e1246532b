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

/// Which command a catalogue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandId {
    /// `/subscribe`.
    Subscribe,
    /// `/unsubscribe`.
    Unsubscribe,
    /// `/settings`.
    Settings,
    /// `/time`.
    Time,
    /// `/size`.
    Size,
    /// `/topics`.
    Topics,
    /// `/top`.
    Top,
    /// `/related`.
    Related,
    /// `/more`.
    More,
    /// `/feeds`.
    Feeds,
    /// `/help`.
    Help,
    /// `/start`.
    Start,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone in the chat.
    Anyone,
    /// Whoever may change the chat's subscription: its admins in a group or server, anyone in a
    /// private chat. (`/topics` without arguments only shows them, to anyone.)
    ChatAdmins,
    /// podbrief's operators (`ingest.operators`).
    Operators,
}

/// One chat command: what it is called, how it is used, who may run it and where it is offered.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Which command.
    pub id: CommandId,
    /// Its name, without the slash.
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// Its arguments as `/help` shows them (empty: none).
    pub args: &'static str,
    /// What it does, in a few words: `/help`, Telegram's menu, Discord's description.
    pub about: &'static str,
    /// What `/help` adds after `about`.
    pub help_note: &'static str,
    /// The usage line of a usage error.
    pub usage: &'static str,
    /// Who may run it.
    pub who: Who,
    /// Whether `/help` lists it.
    pub in_help: bool,
    /// Whether Telegram's command menu offers it.
    pub in_menu: bool,
    /// Whether it is registered as a Discord slash command.
    pub slash: bool,
}

impl CommandSpec {
    /// Its line in `/help`.
    pub fn help_line(&self) -> String {
        let head = if self.args.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {}", self.name, self.args)
        };
        format!("{head} — {}{}", self.about, self.help_note)
    }
}

/// A catalogue entry offered everywhere (`/help`, Telegram's menu, not Discord) to anyone.
const fn entry(id: CommandId, name: &'static str, args: &'static str) -> CommandSpec {
    CommandSpec {
        id,
        name,
        aliases: &[],
        args,
        about: "",
        help_note: "",
        usage: "",
        who: Who::Anyone,
        in_help: true,
        in_menu: true,
        slash: false,
    }
}

/// Every command podbrief answers, in the order `/help` and the menus list them.
pub const CATALOGUE: &[CommandSpec] = &[
    CommandSpec {
        about: "get the daily brief here",
        usage: "/subscribe [HH:MM] [Area/City], e.g. /subscribe 08:00 Europe/Berlin",
        who: Who::ChatAdmins,
        slash: true,
        ..entry(CommandId::Subscribe, "subscribe", "[HH:MM] [Area/City]")
    },
    CommandSpec {
        aliases: &["stop"],
        about: "stop the daily brief",
        usage: "/unsubscribe",
        who: Who::ChatAdmins,
        slash: true,
        ..entry(CommandId::Unsubscribe, "unsubscribe", "")
    },
    CommandSpec {
        about: "this chat's subscription",
        usage: "/settings",
        slash: true,
        ..entry(CommandId::Settings, "settings", "")
    },
    CommandSpec {
        about: "change when the brief comes",
        usage: "/time HH:MM [Area/City], e.g. /time 07:30 Asia/Tokyo",
        who: Who::ChatAdmins,
        ..entry(CommandId::Time, "time", "HH:MM [Area/City]")
    },
    CommandSpec {
        about: "insights per brief (1-10)",
        usage: "/size N, with N from 1 to 10",
        who: Who::ChatAdmins,
        ..entry(CommandId::Size, "size", "N")
    },
    CommandSpec {
        about: "prefer or exclude topics",
        help_note: " (/topics clear to reset)",
        usage: "/topics ai, chips, -crypto (or /topics clear)",
        who: Who::ChatAdmins,
        ..entry(CommandId::Topics, "topics", "ai, chips, -crypto")
    },
    CommandSpec {
        aliases: &["brief"],
        about: "today's top insights",
        usage: "/top",
        slash: true,
        ..entry(CommandId::Top, "top", "")
    },
    CommandSpec {
        aliases: &["search"],
        about: "insights related to something",
        help_note: " (or just write \"related to <words>\")",
        usage: "/related <words>, e.g. /related chip exports",
        slash: true,
        ..entry(CommandId::Related, "related", "<words>")
    },
    CommandSpec {
        about: "more insights like insight <id>",
        usage: "/more <id>, with the id shown under an insight",
        in_menu: false,
        ..entry(CommandId::More, "more", "<id>")
    },
    CommandSpec {
        about: "the feed list",
        help_note: " (operators only)",
        usage: "/feeds, /feeds add URL or /feeds remove URL",
        who: Who::Operators,
        in_menu: false,
        ..entry(CommandId::Feeds, "feeds", "[add|remove URL]")
    },
    CommandSpec {
        about: "this list",
        usage: "/help",
        ..entry(CommandId::Help, "help", "")
    },
    CommandSpec {
        about: "what this bot does",
        usage: "/start",
        in_help: false,
        ..entry(CommandId::Start, "start", "")
    },
];

/// The catalogue entry of a command.
pub fn spec(id: CommandId) -> &'static CommandSpec {
    CATALOGUE
        .iter()
        .find(|c| c.id == id)
        .unwrap_or(&CATALOGUE[0])
}

/// The catalogue entry a name (or alias, any case) stands for.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    CATALOGUE.iter().find(|c| {
        c.name.eq_ignore_ascii_case(name) || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

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
        if name.is_empty() {
            return Ok(None);
        }
        let Some(spec) = lookup(name) else {
            let name = name.to_ascii_lowercase();
            return Err(CommandError::Unknown(name.chars().take(32).collect()));
        };
        let cmd = match spec.id {
            CommandId::Start => Command::Start,
            CommandId::Help => Command::Help,
            CommandId::Subscribe => {
                let (time, timezone) = parse_time_and_zone(args, spec.usage)?;
                Command::Subscribe { time, timezone }
            }
            CommandId::Unsubscribe => Command::Unsubscribe,
            CommandId::Settings => Command::Settings,
            CommandId::Topics => Command::Topics(parse_topics(args)),
            CommandId::Size => Command::Size(parse_size(args, spec.usage)?),
            CommandId::Time => match parse_time_and_zone(args, spec.usage)? {
                (Some(time), timezone) => Command::Time { time, timezone },
                (None, _) => return Err(usage("Which time?", spec.usage)),
            },
            CommandId::Top => Command::Top,
            CommandId::Related => {
                if args.is_empty() {
                    return Err(usage("Related to what?", spec.usage));
                }
                Command::Related(args.to_string())
            }
            CommandId::More => match args.trim_start_matches('#').parse::<i64>() {
                Ok(id) if id > 0 => Command::More(id),
                _ => return Err(usage("Which insight?", spec.usage)),
            },
            CommandId::Feeds => Command::Feeds(parse_feeds(args, spec.usage)?),
        };
        Ok(Some(cmd))
    }

    /// Which command this is.
    pub fn id(&self) -> CommandId {
        match self {
            Command::Start => CommandId::Start,
            Command::Help => CommandId::Help,
            Command::Subscribe { .. } => CommandId::Subscribe,
            Command::Unsubscribe => CommandId::Unsubscribe,
            Command::Settings => CommandId::Settings,
            Command::Topics(_) => CommandId::Topics,
            Command::Size(_) => CommandId::Size,
            Command::Time { .. } => CommandId::Time,
            Command::Top => CommandId::Top,
            Command::Related(_) => CommandId::Related,
            Command::More(_) => CommandId::More,
            Command::Feeds(_) => CommandId::Feeds,
        }
    }

    /// Whether running it needs the right to change the chat's subscription (the catalogue's
    /// [`Who::ChatAdmins`]; showing the topics does not).
    pub fn needs_chat_admin(&self) -> bool {
        spec(self.id()).who == Who::ChatAdmins && !matches!(self, Command::Topics(TopicsArg::Show))
    }
}

fn parse_feeds(args: &str, usage_line: &'static str) -> Result<FeedsArg, CommandError> {
    let mut words = args.split_whitespace();
    match (
        words.next().map(str::to_ascii_lowercase).as_deref(),
        words.next(),
        words.next(),
    ) {
        (None, _, _) | (Some("list"), None, _) => Ok(FeedsArg::List),
        (Some("add"), Some(url), None) => Ok(FeedsArg::Add(url.to_string())),
        (Some("remove"), Some(url), None) => Ok(FeedsArg::Remove(url.to_string())),
        _ => Err(usage("What should I do with the feeds?", usage_line)),
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

fn parse_size(args: &str, usage_line: &'static str) -> Result<u8, CommandError> {
    match args.parse::<u8>() {
        Ok(n) if (1..=MAX_BRIEF_SIZE).contains(&n) => Ok(n),
        _ if args.is_empty() => Err(usage("How many insights per brief?", usage_line)),
        _ => Err(usage(
            format!("{args:?} is not a number from 1 to 10."),
            usage_line,
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
    fn the_parser_reads_the_catalogue() {
        let sample = |id| match id {
            CommandId::Time => " 07:30",
            CommandId::Size => " 3",
            CommandId::Related => " chips",
            CommandId::More => " 7",
            _ => "",
        };
        for c in CATALOGUE {
            assert_eq!(spec(c.id).name, c.name);
            for name in std::iter::once(c.name).chain(c.aliases.iter().copied()) {
                let cmd = p(&format!("/{}{}", name.to_uppercase(), sample(c.id)));
                assert_eq!(cmd.unwrap().map(|c| c.id()), Some(c.id), "/{name}");
            }
            assert!(!c.about.is_empty() && c.about.len() <= 100, "{}", c.name);
            assert!(c.usage.starts_with(&format!("/{}", c.name)), "{}", c.name);
        }
        assert!(Command::Size(3).needs_chat_admin());
        assert!(Command::Topics(TopicsArg::Clear).needs_chat_admin());
        assert!(!Command::Topics(TopicsArg::Show).needs_chat_admin());
        assert!(!Command::Top.needs_chat_admin());
        assert_eq!(
            spec(CommandId::Related).help_line(),
            "/related <words> — insights related to something (or just write \"related to <words>\")"
        );
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
