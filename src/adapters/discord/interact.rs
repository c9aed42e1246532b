//! Interactions, whichever way they arrive (gateway or HTTP endpoint): slash commands become core
//! [`Command`]s, buttons become "more like this" lookups, autocomplete suggests timezones and
//! topics. Each interaction gets an [`Answer`]: the first response (sent by the caller: a REST
//! callback in gateway mode, the HTTP body in endpoint mode) and what follows it (the edit of a
//! deferred response, extra messages of a long reply).

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutocompleteChoice, ChannelType, CommandDataOptionValue, CommandInteraction, CommandOptionType,
    ComponentInteraction, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, Http, Interaction, InteractionId,
    Permissions,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use super::render::{Rendered, no_mentions, render_with};
use super::send::redact;
use crate::core::command::{
    CATALOGUE, Command, CommandId, MAX_BRIEF_SIZE, ParseContext, Who, lookup,
};
use crate::core::model::{ChatRef, Platform, Reply};
use crate::core::schedule::{Schedule, parse_timezone};
use crate::core::{Core, UserContext};

/// Discord wants a first response within 3 seconds; work that takes longer than this is
/// deferred and the response edited when it is ready.
const DEFER_AFTER: Duration = Duration::from_millis(2000);
/// Most autocomplete choices Discord accepts.
pub const MAX_CHOICES: usize = 25;
/// How long the known topics are cached for autocomplete.
const TOPICS_TTL: Duration = Duration::from_secs(300);

/// The slash commands podbrief registers: the core catalogue's slash commands, described as it
/// describes them. Subscription changes need Manage Channels by default (server admins may
/// change that); the server checks again on every interaction.
pub fn slash_commands() -> Vec<CreateCommand> {
    CATALOGUE
        .iter()
        .filter(|c| c.slash)
        .map(|c| {
            let mut about = c.about.to_string();
            if let Some(first) = about.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            let mut command = CreateCommand::new(c.name).description(about);
            if c.who == Who::ChatAdmins {
                command = command.default_member_permissions(Permissions::MANAGE_CHANNELS);
            }
            slash_options(c.id)
                .into_iter()
                .fold(command, CreateCommand::add_option)
        })
        .collect()
}

/// A slash command's options (Discord's form of its arguments).
fn slash_options(id: CommandId) -> Vec<CreateCommandOption> {
    let text =
        |name: &str, what: &str| CreateCommandOption::new(CommandOptionType::String, name, what);
    match id {
        CommandId::Subscribe => vec![
            text("time", "Local time of day, HH:MM (or a cron expression)").max_length(100),
            text("timezone", "IANA timezone, e.g. Europe/Berlin")
                .set_autocomplete(true)
                .max_length(64),
            text("topics", "Prefer or exclude topics: ai, chips, -crypto").max_length(300),
            CreateCommandOption::new(
                CommandOptionType::Integer,
                "size",
                "Insights per brief (1-10)",
            )
            .min_int_value(1)
            .max_int_value(u64::from(MAX_BRIEF_SIZE)),
        ],
        CommandId::Related => vec![
            text("query", "What to look up, e.g. chip exports")
                .required(true)
                .set_autocomplete(true)
                .max_length(200),
        ],
        _ => Vec::new(),
    }
}

/// What follows the first response.
pub enum FollowUp {
    /// The work of a deferred response: edit the original response with its reply.
    Edit(JoinHandle<Reply>),
    /// The remaining messages of a long reply.
    More(Vec<Rendered>),
}

/// How to answer one interaction.
pub struct Answer {
    /// The interaction.
    pub id: InteractionId,
    /// Its token (for the callback, edits and follow-ups).
    pub token: String,
    /// The first response.
    pub first: CreateInteractionResponse,
    /// What follows it, if anything.
    pub then: Option<FollowUp>,
    /// Whether follow-ups are only shown to the user.
    pub ephemeral: bool,
}

#[derive(Default)]
struct TopicCache {
    loaded: Option<Instant>,
    names: Vec<String>,
}

/// Answers interactions with the core.
pub struct Handler {
    core: Arc<Core>,
    http: Arc<Http>,
    token: String,
    topics: tokio::sync::Mutex<TopicCache>,
    public_url: String,
}

/// The steps of `/subscribe`, or what to tell the member: the bot's missing channel
/// permissions, or a bad option.
fn subscribe_interaction(i: &CommandInteraction, guild: bool) -> Result<Vec<Command>, String> {
    let thread = is_thread(i.channel.as_ref().map(|c| c.kind));
    let missing = if guild {
        missing_bot_permissions(i.app_permissions, thread)
    } else {
        Vec::new()
    };
    if !missing.is_empty() {
        return Err(format!(
            "I can't deliver the brief here: I'm missing {} in this channel. Give me {}, then run /subscribe again.",
            missing.join(", "),
            if missing.len() == 1 {
                "that permission"
            } else {
                "those permissions"
            }
        ));
    }
    subscribe_steps(
        option_string(i, "time"),
        option_string(i, "timezone"),
        option_string(i, "topics"),
        option_int(i, "size"),
    )
}

fn channel_chat(channel: u64) -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        chat_id: channel.to_string(),
        thread_id: None,
    }
}

/// Whether a member may change the channel's subscription: Manage Channels or Administrator in
/// the channel (outside a server, in a DM, the user may).
pub fn member_can_manage(guild: bool, permissions: Option<Permissions>) -> bool {
    if !guild {
        return true;
    }
    permissions.is_some_and(|p| {
        p.contains(Permissions::ADMINISTRATOR) || p.contains(Permissions::MANAGE_CHANNELS)
    })
}

/// What the bot lacks to deliver the brief in a channel, by the names Discord shows.
pub fn missing_bot_permissions(app: Option<Permissions>, thread: bool) -> Vec<&'static str> {
    let Some(p) = app else { return Vec::new() };
    if p.contains(Permissions::ADMINISTRATOR) {
        return Vec::new();
    }
    let send = if thread {
        (
            Permissions::SEND_MESSAGES_IN_THREADS,
            "Send Messages in Threads",
        )
    } else {
        (Permissions::SEND_MESSAGES, "Send Messages")
    };
    [
        (Permissions::VIEW_CHANNEL, "View Channel"),
        send,
        (Permissions::EMBED_LINKS, "Embed Links"),
    ]
    .into_iter()
    .filter(|(bit, _)| !p.contains(*bit))
    .map(|(_, name)| name)
    .collect()
}

fn is_thread(kind: Option<ChannelType>) -> bool {
    matches!(
        kind,
        Some(ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread)
    )
}

const AREAS: &[&str] = &[
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
];

const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Dubai",
    "Australia/Sydney",
    "Africa/Johannesburg",
];

/// IANA zones matching what a user typed, best first, at most [`MAX_CHOICES`]: exact name, then
/// names or cities starting with it, then names containing it; Area/City names before legacy
/// aliases.
pub fn timezone_choices(typed: &str) -> Vec<&'static str> {
    let q: String = typed
        .trim()
        .chars()
        .take(64)
        .collect::<String>()
        .to_lowercase()
        .replace(' ', "_");
    if q.is_empty() {
        return COMMON_ZONES.iter().copied().take(MAX_CHOICES).collect();
    }
    let mut scored: Vec<(u8, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .filter_map(|tz| {
            let name = tz.name();
            let lower = name.to_lowercase();
            let city = lower.rsplit('/').next().unwrap_or(&lower);
            let rank = if lower == q {
                0
            } else if lower.starts_with(&q) {
                1
            } else if city.starts_with(&q) {
                2
            } else if lower.contains(&q) {
                3
            } else {
                return None;
            };
            let legacy = !AREAS.iter().any(|a| name.starts_with(a)) && rank > 0;
            Some((rank + if legacy { 4 } else { 0 }, name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(MAX_CHOICES)
        .map(|(_, n)| n)
        .collect()
}

/// Known names matching what a user typed (prefix matches first), at most [`MAX_CHOICES`].
pub fn suggest(names: &[String], typed: &str) -> Vec<String> {
    let q = typed.trim().to_lowercase();
    let fits = |n: &&String| n.chars().count() <= 100;
    if q.is_empty() {
        return names
            .iter()
            .filter(fits)
            .take(MAX_CHOICES)
            .cloned()
            .collect();
    }
    let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let prefix = names
        .iter()
        .zip(&lower)
        .filter(|(_, l)| l.starts_with(&q))
        .map(|(n, _)| n);
    let inner = names
        .iter()
        .zip(&lower)
        .filter(|(_, l)| !l.starts_with(&q) && l.contains(&q))
        .map(|(n, _)| n);
    prefix
        .chain(inner)
        .filter(fits)
        .take(MAX_CHOICES)
        .cloned()
        .collect()
}

fn option_string(i: &CommandInteraction, name: &str) -> Option<String> {
    i.data
        .options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.trim().to_string()),
            CommandDataOptionValue::Autocomplete { value, .. } => Some(value.trim().to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
}

fn option_int(i: &CommandInteraction, name: &str) -> Option<i64> {
    i.data
        .options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::Integer(n) => Some(*n),
            CommandDataOptionValue::String(s) => s.trim().parse().ok(),
            _ => None,
        })
}

/// The IANA name of a zone, whatever the case it was typed in.
fn canonical_zone(typed: &str) -> Result<String, crate::core::schedule::ScheduleError> {
    let t = typed.trim();
    match chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().eq_ignore_ascii_case(t))
    {
        Some(z) => Ok(z.name().to_string()),
        None => parse_timezone(t).map(|z| z.name().to_string()),
    }
}

/// The commands a `/subscribe` with options stands for, or what is wrong with the options.
pub fn subscribe_steps(
    time: Option<String>,
    timezone: Option<String>,
    topics: Option<String>,
    size: Option<i64>,
) -> Result<Vec<Command>, String> {
    if let Some(t) = &time {
        Schedule::parse(t).map_err(|e| e.to_string())?;
    }
    let timezone = match timezone {
        Some(z) => Some(canonical_zone(&z).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut steps = vec![Command::Subscribe { time, timezone }];
    if let Some(t) = topics {
        match Command::parse(&format!("/topics {t}"), ParseContext::default()) {
            Ok(Some(c)) => steps.push(c),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(n) = size {
        match u8::try_from(n) {
            Ok(n) if (1..=MAX_BRIEF_SIZE).contains(&n) => steps.push(Command::Size(n)),
            _ => return Err(format!("size {n} is out of range: 1 to {MAX_BRIEF_SIZE}.")),
        }
    }
    Ok(steps)
}

async fn run_steps(core: Arc<Core>, user: UserContext, steps: Vec<Command>) -> Reply {
    let mut texts = Vec::new();
    let mut cards = Vec::new();
    for (n, step) in steps.into_iter().enumerate() {
        if n > 0 {
            // Settings after a subscribe apply only if the subscribe took.
            match core.subscription(&user.chat).await {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let r = core.handle(&user, step).await;
        texts.push(r.text);
        cards.extend(r.cards);
    }
    Reply {
        text: texts.join("\n"),
        cards,
    }
}

fn text_response(text: &str, ephemeral: bool) -> CreateInteractionResponse {
    let r = Rendered {
        content: super::render::fit(text, super::render::MAX_CONTENT, true),
        ..Rendered::default()
    };
    CreateInteractionResponse::Message(r.to_response(ephemeral))
}

impl Handler {
    /// A handler answering with `core`, following up through `http`.
    pub fn new(core: Arc<Core>, http: Arc<Http>, token: String) -> Handler {
        Handler {
            core,
            http,
            token,
            topics: tokio::sync::Mutex::new(TopicCache::default()),
            public_url: String::new(),
        }
    }

    /// Links card titles to insight pages under `public_url` (`http.public_url`).
    pub fn with_pages(mut self, public_url: &str) -> Handler {
        self.public_url = public_url.to_string();
        self
    }

    /// The core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The REST client.
    pub fn http(&self) -> &Arc<Http> {
        &self.http
    }

    /// Removes the token from a text.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.token)
    }

    /// How to answer an interaction.
    pub async fn answer(&self, interaction: Interaction) -> Answer {
        match interaction {
            Interaction::Ping(p) => Answer {
                id: p.id,
                token: p.token,
                first: CreateInteractionResponse::Pong,
                then: None,
                ephemeral: false,
            },
            Interaction::Command(c) => self.command(c).await,
            Interaction::Autocomplete(c) => self.autocomplete(c).await,
            Interaction::Component(c) => self.component(c).await,
            other => Answer {
                id: other.id(),
                token: other.token().to_string(),
                first: text_response("That is not something I can do.", true),
                then: None,
                ephemeral: true,
            },
        }
    }

    fn now(id: InteractionId, token: String, text: &str, ephemeral: bool) -> Answer {
        Answer {
            id,
            token,
            first: text_response(text, ephemeral),
            then: None,
            ephemeral,
        }
    }

    async fn command(&self, i: CommandInteraction) -> Answer {
        let guild = i.guild_id.is_some();
        let chat = channel_chat(i.channel_id.get());
        let user = UserContext {
            chat,
            user_id: Some(i.user.id.to_string()),
            can_manage: member_can_manage(guild, i.member.as_ref().and_then(|m| m.permissions)),
            scope_id: i.guild_id.map(|g| g.to_string()),
        };
        let spec = lookup(&i.data.name).filter(|c| c.slash);
        if spec.is_some_and(|c| c.who == Who::ChatAdmins) && !user.can_manage {
            return Self::now(
                i.id,
                i.token,
                "You need the Manage Channels permission in this channel to change its daily brief.",
                true,
            );
        }
        let (steps, ephemeral) = match spec.map(|c| c.id) {
            Some(CommandId::Unsubscribe) => (vec![Command::Unsubscribe], false),
            Some(CommandId::Subscribe) => match subscribe_interaction(&i, guild) {
                Ok(s) => (s, false),
                Err(e) => return Self::now(i.id, i.token, &e, true),
            },
            Some(CommandId::Settings) => (vec![Command::Settings], true),
            Some(CommandId::Top) => (vec![Command::Top], false),
            Some(CommandId::Related) => match option_string(&i, "query") {
                Some(q) => (vec![Command::Related(q)], false),
                None => {
                    return Self::now(
                        i.id,
                        i.token,
                        "Related to what? Try /related chip exports.",
                        true,
                    );
                }
            },
            _ => {
                return Self::now(
                    i.id,
                    i.token,
                    "I don't know that command (yet). Try /top or /related.",
                    true,
                );
            }
        };
        let core = self.core.clone();
        self.within_window(i.id, i.token, ephemeral, run_steps(core, user, steps))
            .await
    }

    async fn component(&self, i: ComponentInteraction) -> Answer {
        let Some(id) = i
            .data
            .custom_id
            .strip_prefix("more:")
            .and_then(|d| d.parse::<i64>().ok())
            .filter(|id| *id > 0)
        else {
            return Self::now(i.id, i.token, "This button no longer does anything.", true);
        };
        let user = UserContext {
            chat: channel_chat(i.channel_id.get()),
            user_id: Some(i.user.id.to_string()),
            can_manage: false,
            scope_id: i.guild_id.map(|g| g.to_string()),
        };
        let core = self.core.clone();
        self.within_window(i.id, i.token, true, async move {
            core.handle(&user, Command::More(id)).await
        })
        .await
    }

    async fn autocomplete(&self, i: CommandInteraction) -> Answer {
        let focused = i.data.autocomplete();
        let choices: Vec<String> = match focused {
            Some(f) if f.name == "timezone" => timezone_choices(f.value)
                .into_iter()
                .map(str::to_string)
                .collect(),
            Some(f) if f.name == "query" => suggest(&self.known_topics().await, f.value),
            _ => Vec::new(),
        };
        let response = CreateAutocompleteResponse::new().set_choices(
            choices
                .into_iter()
                .take(MAX_CHOICES)
                .map(|c| AutocompleteChoice::new(c.clone(), c))
                .collect(),
        );
        Answer {
            id: i.id,
            token: i.token,
            first: CreateInteractionResponse::Autocomplete(response),
            then: None,
            ephemeral: true,
        }
    }

    /// Topics and podcast titles, most common first (cached for a few minutes).
    async fn known_topics(&self) -> Vec<String> {
        let mut cache = self.topics.lock().await;
        if cache.loaded.is_none_or(|t| t.elapsed() > TOPICS_TTL) {
            cache.names = load_topics(&self.core).await;
            cache.loaded = Some(Instant::now());
        }
        cache.names.clone()
    }

    /// Runs `work`; answers with its reply if it is ready in time, else defers and edits the
    /// response when it is.
    async fn within_window<F>(
        &self,
        id: InteractionId,
        token: String,
        ephemeral: bool,
        work: F,
    ) -> Answer
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        let mut task = tokio::spawn(work);
        match tokio::time::timeout(DEFER_AFTER, &mut task).await {
            Ok(Ok(reply)) => {
                let mut messages = render_with(&reply, &self.public_url).into_iter();
                let first = messages.next().unwrap_or_default();
                let rest: Vec<Rendered> = messages.collect();
                Answer {
                    id,
                    token,
                    first: CreateInteractionResponse::Message(first.to_response(ephemeral)),
                    then: (!rest.is_empty()).then_some(FollowUp::More(rest)),
                    ephemeral,
                }
            }
            Ok(Err(e)) => {
                warn!(error = %e, "an interaction's work failed");
                Self::now(id, token, "Sorry, something went wrong on my side.", true)
            }
            Err(_) => Answer {
                id,
                token,
                first: CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new()
                        .ephemeral(ephemeral)
                        .allowed_mentions(no_mentions()),
                ),
                then: Some(FollowUp::Edit(task)),
                ephemeral,
            },
        }
    }

    /// Sends what follows a first response, in order. With `first_sent` false (endpoint mode,
    /// where the first response is the HTTP answer) it first waits until Discord has accepted
    /// that response. Each call is retried with backoff while Discord says it did not take it
    /// ([`retryable`]); a message that still fails is reported with the ones not sent after it.
    pub async fn follow_up(&self, token: &str, then: FollowUp, ephemeral: bool, first_sent: bool) {
        if !first_sent
            && let Err(e) = self
                .retry(|| self.http.get_original_interaction_response(token))
                .await
        {
            warn!(error = %self.redact(&e.to_string()), "Discord never showed the first response; sending what follows anyway");
        }
        let rest = match then {
            FollowUp::Edit(task) => {
                let reply = task
                    .await
                    .unwrap_or_else(|_| Reply::text("Sorry, something went wrong on my side."));
                let mut messages = render_with(&reply, &self.public_url).into_iter();
                let first = messages.next().unwrap_or_default();
                let edit = first.to_edit();
                if let Err(e) = self
                    .retry(|| {
                        self.http
                            .edit_original_interaction_response(token, &edit, vec![])
                    })
                    .await
                {
                    warn!(error = %self.redact(&e.to_string()), unsent = messages.len() + 1, "could not edit a deferred Discord response; the answer was not sent");
                    return;
                }
                messages.collect()
            }
            FollowUp::More(rest) => rest,
        };
        let total = rest.len();
        for (n, m) in rest.into_iter().enumerate() {
            let f = m.to_followup(ephemeral);
            if let Err(e) = self
                .retry(|| self.http.create_followup_message(token, &f, vec![]))
                .await
            {
                warn!(error = %self.redact(&e.to_string()), unsent = total - n, total, "could not send Discord follow-up messages");
                return;
            }
        }
    }

    /// Calls `call` until it succeeds, at most [`FOLLOW_UP_ATTEMPTS`] times, waiting 0.5 s
    /// (doubling) between tries, while its failure is [`retryable`].
    async fn retry<T, Fut>(&self, call: impl Fn() -> Fut) -> serenity::Result<T>
    where
        Fut: Future<Output = serenity::Result<T>>,
    {
        let mut wait = Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if attempt < FOLLOW_UP_ATTEMPTS && retryable(&e) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Tries of one follow-up call (about 7.5 s of waiting in all).
const FOLLOW_UP_ATTEMPTS: u32 = 5;

/// Whether Discord did not take a call, so trying again cannot post twice: rate limited, a
/// server error, the interaction not known yet (its first response not accepted), or no
/// connection made. A timeout is not retried: the message may have been posted.
fn retryable(e: &serenity::Error) -> bool {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            status == 429 || status == 404 || status >= 500
        }
        serenity::Error::Http(HttpError::Request(e)) => e.is_connect(),
        _ => false,
    }
}

/// Autocomplete choices for `/related`: the index's most common topics, then podcast titles.
async fn load_topics(core: &Core) -> Vec<String> {
    let mut names = core.top_topics(500);
    for title in core.podcast_titles().await.unwrap_or_default() {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&title)) {
            names.push(title);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezones_match_what_was_typed() {
        let z = timezone_choices("europe/ber");
        assert_eq!(z[0], "Europe/Berlin");
        let z = timezone_choices("tokyo");
        assert_eq!(z[0], "Asia/Tokyo");
        let z = timezone_choices("a");
        assert_eq!(z.len(), MAX_CHOICES);
        assert_eq!(timezone_choices("").len(), MAX_CHOICES);
        assert!(timezone_choices("zzzz").is_empty());
        assert!(timezone_choices(&"é".repeat(500)).is_empty());
        assert_eq!(timezone_choices("new york")[0], "America/New_York");
    }

    #[test]
    fn permissions_are_checked() {
        assert!(member_can_manage(false, None));
        assert!(!member_can_manage(true, None));
        assert!(!member_can_manage(true, Some(Permissions::SEND_MESSAGES)));
        assert!(member_can_manage(true, Some(Permissions::MANAGE_CHANNELS)));
        assert!(member_can_manage(true, Some(Permissions::ADMINISTRATOR)));
        let ok = Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::EMBED_LINKS;
        assert!(missing_bot_permissions(Some(ok), false).is_empty());
        assert_eq!(
            missing_bot_permissions(Some(ok), true),
            vec!["Send Messages in Threads"]
        );
        assert_eq!(
            missing_bot_permissions(Some(Permissions::VIEW_CHANNEL), false),
            vec!["Send Messages", "Embed Links"]
        );
    }

    #[test]
    fn subscribe_options_are_checked_first() {
        let s = subscribe_steps(
            Some("07:30".into()),
            Some("asia/tokyo".into()),
            Some("ai, -crypto".into()),
            Some(3),
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert!(subscribe_steps(Some("25:00".into()), None, None, None).is_err());
        assert!(subscribe_steps(None, Some("Mars/Base".into()), None, None).is_err());
        assert!(subscribe_steps(None, None, None, Some(11)).is_err());
        assert!(subscribe_steps(None, None, None, Some(-1)).is_err());
    }

    #[test]
    fn suggestions_prefer_prefixes() {
        let names: Vec<String> = ["tidal energy", "apple", "energy storage"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            suggest(&names, "ener"),
            vec!["energy storage", "tidal energy"]
        );
        assert_eq!(suggest(&names, "").len(), 3);
    }
}
