//! Command → Reply: what the bot answers, whatever the platform.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tracing::error;

use crate::core::brief::{BriefRules, TopicFilter, rank};
use crate::core::clock::Clock;
use crate::core::command::{CATALOGUE, Command, CommandError, FeedsArg, ParseContext, TopicsArg};
use crate::core::model::{
    Card, ChatRef, InsightId, InsightView, Platform, Reply, Subscription, SubscriptionId,
};
use crate::core::ports::{FeedAdmin, FeedAdminError, Lookup};
use crate::core::schedule::{Schedule, Zone, parse_timezone};
use crate::store::{NewSubscription, Store, StoreError};

/// The settings the core needs (built from the config in `app.rs`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default insights per brief.
    pub size: u8,
    /// Default time of day (or cron expression).
    pub default_time: Schedule,
    /// Default timezone.
    pub default_timezone: Zone,
    /// How far back episodes enter a brief.
    pub lookback: chrono::Duration,
    /// Freshness half-life in days.
    pub half_life_days: f64,
    /// Per-episode cap in a brief.
    pub max_per_episode: usize,
    /// Per-podcast cap in a brief.
    pub max_per_podcast: usize,
    /// Whether a brief with nothing new is skipped (else a short notice is sent).
    pub skip_empty: bool,
    /// Lookup results.
    pub results: usize,
    /// Whether "more like this" may return the same episode.
    pub related_same_episode: bool,
    /// Who may manage feeds from chat (`console`, `telegram:ID`, `discord:ID`).
    pub operators: Vec<String>,
}

/// Who is asking, as the adapter established it.
#[derive(Debug, Clone)]
pub struct UserContext {
    /// The chat the message came from (and replies go to).
    pub chat: ChatRef,
    /// The platform's user id, if any.
    pub user_id: Option<String>,
    /// Whether this user may change the chat's subscription (an admin, or a private chat).
    pub can_manage: bool,
    /// The server the chat belongs to (a Discord guild id), if any.
    pub scope_id: Option<String>,
}

/// The bot core shared by every adapter.
pub struct Core {
    store: Arc<dyn Store>,
    lookup: Arc<dyn Lookup>,
    feeds: Arc<dyn FeedAdmin>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    schedule_changed: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
    brief_cache: std::sync::Mutex<BriefCache>,
}

/// The lookback window's start (to the minute) and the newest insight id.
type CacheKey = (DateTime<Utc>, InsightId);

/// Brief candidates and rankings shared by the subscriptions of one fan-out: valid while the
/// lookback window (to the minute) and the newest insight stay the same.
#[derive(Default)]
struct BriefCache {
    key: Option<CacheKey>,
    candidates: Arc<Vec<InsightView>>,
    /// Rankings by (topics, size), for subscriptions with nothing delivered among the candidates.
    /// Shared, not copied: a fan-out hands the same ranking to thousands of subscriptions.
    ranked: std::collections::HashMap<(Vec<String>, usize), Arc<Vec<InsightView>>>,
}

const INTERNAL_ERROR: &str =
    "Sorry, something went wrong on my side. Please try again in a moment.";

impl Core {
    /// A core over a store, lookups and the feed list.
    pub fn new(
        store: Arc<dyn Store>,
        lookup: Arc<dyn Lookup>,
        feeds: Arc<dyn FeedAdmin>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Core {
        Core {
            store,
            lookup,
            feeds,
            clock,
            settings,
            schedule_changed: Arc::new(Notify::new()),
            brief_cache: Default::default(),
            metrics: Arc::default(),
        }
    }

    /// Counts lookups (and, through the outbox, sends) in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Core {
        self.metrics = metrics;
        self
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Notified whenever a subscription's schedule changes, so the scheduler can re-plan.
    pub fn schedule_changed(&self) -> Arc<Notify> {
        self.schedule_changed.clone()
    }

    /// The store, for the delivery path (`deliver/`); adapters and the web use the intents
    /// below.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock, for the delivery path (`deliver/`); adapters and the web ask [`Core::now`].
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// What time it is.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A group chat became another chat (Telegram's supergroup upgrade): its subscription
    /// follows. False when the chat had none.
    pub async fn chat_migrated(
        &self,
        chat: &ChatRef,
        new_chat_id: &str,
    ) -> Result<bool, StoreError> {
        self.store.move_chat(chat, new_chat_id).await
    }

    /// The bot can no longer post to `chat` (removed, blocked): its subscription is paused with
    /// `reason`. False when the chat had none.
    pub async fn chat_lost(&self, chat: &ChatRef, reason: &str) -> Result<bool, StoreError> {
        self.store.pause_chat(chat, reason).await
    }

    /// The bot left a server (a Discord guild): every subscription there is paused with
    /// `reason`; returns how many.
    pub async fn scope_lost(
        &self,
        platform: Platform,
        scope_id: &str,
        reason: &str,
    ) -> Result<u64, StoreError> {
        self.store.pause_scope(platform, scope_id, reason).await
    }

    /// The subscription of `chat`, if any.
    pub async fn subscription(&self, chat: &ChatRef) -> Result<Option<Subscription>, StoreError> {
        self.store.subscription(chat).await
    }

    /// The titles of the podcasts read so far (a feed never read is left out).
    pub async fn podcast_titles(&self) -> Result<Vec<String>, StoreError> {
        let feeds = self.store.feeds().await?;
        Ok(feeds
            .into_iter()
            .filter(|f| f.title != f.feed_url)
            .map(|f| f.title)
            .collect())
    }

    /// Takes the instance-wide lock `name` (one Telegram poller among instances); `None` while
    /// another instance holds it.
    pub async fn try_lock(
        &self,
        name: &str,
    ) -> Result<Option<crate::store::InstanceLock>, StoreError> {
        self.store.try_lock(name).await
    }

    /// The most common topics of the indexed insights, most frequent first.
    pub fn top_topics(&self, n: usize) -> Vec<String> {
        self.lookup.top_topics(n)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Parses and answers one chat message; `None` when the message is not for the bot.
    pub async fn handle_text(
        &self,
        ctx: &UserContext,
        text: &str,
        parse: ParseContext<'_>,
    ) -> Option<Reply> {
        match Command::parse(text, parse) {
            Ok(Some(cmd)) => Some(self.handle(ctx, cmd).await),
            Ok(None) => None,
            Err(e @ CommandError::Usage { .. }) | Err(e @ CommandError::Unknown(_)) => {
                Some(Reply::text(e.to_string()))
            }
        }
    }

    /// Answers a command.
    pub async fn handle(&self, ctx: &UserContext, cmd: Command) -> Reply {
        match self.try_handle(ctx, cmd).await {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "command failed");
                Reply::text(INTERNAL_ERROR)
            }
        }
    }

    async fn try_handle(&self, ctx: &UserContext, cmd: Command) -> Result<Reply, StoreError> {
        if cmd.needs_chat_admin() && !ctx.can_manage {
            return Ok(Reply::text(
                "Only the chat's admins can change its subscription.",
            ));
        }
        Ok(match cmd {
            Command::Start => Reply::text(format!(
                "Hi! I'm podbrief. I read new podcast episodes and pick the insights worth knowing.\n\n\
                 • /top shows today's top insights\n\
                 • \"related to <something>\" (or /related <something>) finds insights on it\n\
                 • /subscribe {} {} sends the top {} here every day (any HH:MM, any Area/City timezone)\n\n\
                 /help lists every command.",
                self.settings.default_time, self.settings.default_timezone, self.settings.size
            )),
            Command::Help => {
                let lines: Vec<String> = CATALOGUE
                    .iter()
                    .filter(|c| c.in_help)
                    .map(|c| c.help_line())
                    .collect();
                Reply::text(format!("What I can do:\n{}", lines.join("\n")))
            }
            Command::Subscribe { time, timezone } => self.subscribe(ctx, time, timezone).await?,
            Command::Unsubscribe => {
                if self.store.delete_subscription(&ctx.chat).await? {
                    self.schedule_changed.notify_one();
                    Reply::text(
                        "Unsubscribed: no more daily briefs here. /subscribe brings them back.",
                    )
                } else {
                    Reply::text("This chat has no subscription.")
                }
            }
            Command::Settings => match self.store.subscription(&ctx.chat).await? {
                Some(s) => Reply::text(self.describe(&s)),
                None => Reply::text(NOT_SUBSCRIBED),
            },
            Command::Topics(arg) => self.topics(ctx, arg).await?,
            Command::Size(n) => match self.store.subscription(&ctx.chat).await? {
                Some(mut s) => {
                    s.size = n;
                    self.store.update_subscription(&s).await?;
                    Reply::text(format!("Done: each brief will have up to {n} insights."))
                }
                None => Reply::text(NOT_SUBSCRIBED),
            },
            Command::Time { time, timezone } => self.set_time(ctx, time, timezone).await?,
            Command::Top => self.top(ctx).await?,
            Command::Related(q) => self.related(&q, self.settings.results).await?,
            Command::More(id) => self.more(id, self.settings.results).await?,
            Command::Feeds(arg) => self.feeds(ctx, arg).await?,
        })
    }

    async fn set_time(
        &self,
        ctx: &UserContext,
        time: String,
        timezone: Option<String>,
    ) -> Result<Reply, StoreError> {
        Ok(match self.store.subscription(&ctx.chat).await? {
            Some(mut s) => {
                let tz_name = timezone.unwrap_or(s.timezone.to_string());
                let (schedule, tz) = match (Schedule::parse(&time), parse_timezone(&tz_name)) {
                    (Ok(sc), Ok(tz)) => (sc, tz),
                    (Err(e), _) => return Ok(Reply::text(e.to_string())),
                    (_, Err(e)) => return Ok(Reply::text(e.to_string())),
                };
                let Some(next) = schedule.next_after(self.clock.now(), tz) else {
                    return Ok(Reply::text("That schedule never runs."));
                };
                s.schedule = schedule;
                s.timezone = Zone(tz);
                s.next_run_at = next;
                self.store.update_subscription(&s).await?;
                self.schedule_changed.notify_one();
                Reply::text(format!(
                    "Done: the brief now comes {}. Next: {}.",
                    schedule_words(&s),
                    local(next, tz)
                ))
            }
            None => Reply::text(NOT_SUBSCRIBED),
        })
    }

    async fn top(&self, ctx: &UserContext) -> Result<Reply, StoreError> {
        // A subscribed chat's /top keeps its topic preferences and exclusions.
        let topics = match self.store.subscription(&ctx.chat).await? {
            Some(s) => s.topics,
            None => Vec::new(),
        };
        let picked = self.ranked_top(&topics).await?;
        Ok(if picked.is_empty() {
            Reply::text(format!(
                "No insights yet from episodes of the last {}. Try again after the next ingest.",
                days(self.settings.lookback)
            ))
        } else {
            Reply {
                text: format!("Top {} insights:", picked.len()),
                cards: picked.iter().map(Card::from).collect(),
            }
        })
    }

    async fn subscribe(
        &self,
        ctx: &UserContext,
        time: Option<String>,
        timezone: Option<String>,
    ) -> Result<Reply, StoreError> {
        let existing = self.store.subscription(&ctx.chat).await?;
        let schedule_text = time
            .or_else(|| existing.as_ref().map(|s| s.schedule.to_string()))
            .unwrap_or_else(|| self.settings.default_time.to_string());
        let tz_name = timezone
            .or_else(|| existing.as_ref().map(|s| s.timezone.to_string()))
            .unwrap_or_else(|| self.settings.default_timezone.to_string());
        let (schedule, tz) = match (Schedule::parse(&schedule_text), parse_timezone(&tz_name)) {
            (Ok(s), Ok(tz)) => (s, tz),
            (Err(e), _) => return Ok(Reply::text(e.to_string())),
            (_, Err(e)) => return Ok(Reply::text(e.to_string())),
        };
        let Some(next) = schedule.next_after(self.clock.now(), tz) else {
            return Ok(Reply::text("That schedule never runs."));
        };
        let sub = self
            .store
            .upsert_subscription(&NewSubscription {
                chat: ctx.chat.clone(),
                schedule: schedule_text,
                timezone: tz.name().to_string(),
                size: existing
                    .as_ref()
                    .map(|s| s.size)
                    .unwrap_or(self.settings.size),
                topics: existing
                    .as_ref()
                    .map(|s| s.topics.clone())
                    .unwrap_or_default(),
                next_run_at: next,
                created_by: ctx.user_id.clone(),
                scope_id: ctx.scope_id.clone(),
            })
            .await?;
        self.schedule_changed.notify_one();
        let verb = if existing.is_some() {
            "Updated"
        } else {
            "Subscribed"
        };
        Ok(Reply::text(format!(
            "{verb}: the top {} insights will arrive here {}. The first brief: {}.\n/settings shows this, /unsubscribe stops it.",
            sub.size,
            schedule_words(&sub),
            local(next, tz)
        )))
    }

    async fn topics(&self, ctx: &UserContext, arg: TopicsArg) -> Result<Reply, StoreError> {
        let Some(mut s) = self.store.subscription(&ctx.chat).await? else {
            return Ok(Reply::text(NOT_SUBSCRIBED));
        };
        Ok(match arg {
            TopicsArg::Show => Reply::text(if s.topics.is_empty() {
                let known = self.lookup.top_topics(8);
                format!(
                    "No topic filter: the brief covers everything.\nSet one with /topics {}",
                    example_topics(&known)
                )
            } else {
                format!("Topics: {}", s.topics.join(", "))
            }),
            TopicsArg::Clear => {
                s.topics.clear();
                self.store.update_subscription(&s).await?;
                Reply::text("Topic filter removed: the brief covers everything.")
            }
            TopicsArg::Set(t) => {
                s.topics = t;
                self.store.update_subscription(&s).await?;
                Reply::text(format!(
                    "Topics set: {}. Insights on these rank first; -topic ones never appear.",
                    s.topics.join(", ")
                ))
            }
        })
    }

    /// Insights on `q` (a user's words), at most `limit` (chats ask for `search.results`;
    /// `podbrief related --limit N` for N).
    pub async fn related(&self, q: &str, limit: usize) -> Result<Reply, StoreError> {
        let _timer = self.metrics.lookup_timer();
        let shown: String = q.chars().take(100).collect();
        let ids = match self.lookup.related_to(q, limit, self.clock.now()).await {
            Ok(h) => h,
            Err(e) => {
                error!(error = %e, "search failed");
                return Ok(Reply::text(INTERNAL_ERROR));
            }
        };
        let found = self.store.insights(&ids).await?;
        if found.is_empty() {
            let known = self.lookup.top_topics(5);
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(" Try: {}.", known.join(", "))
            };
            return Ok(Reply::text(format!(
                "Nothing related to \"{shown}\" yet.{hint}"
            )));
        }
        Ok(Reply {
            text: format!("Related to \"{shown}\":"),
            cards: found.iter().map(Card::from).collect(),
        })
    }

    /// Insights on the same subject as insight `id`, at most `limit` (chats ask for
    /// `search.results`): only those related enough, so possibly none ("Nothing else on this
    /// yet").
    pub async fn more(&self, id: InsightId, limit: usize) -> Result<Reply, StoreError> {
        let _timer = self.metrics.lookup_timer();
        let Some(insight) = self.store.insights(&[id]).await?.into_iter().next() else {
            return Ok(Reply::text(format!("There is no insight #{id}.")));
        };
        let ids = match self.lookup.more_like(
            &insight,
            limit,
            self.settings.related_same_episode,
            self.clock.now(),
        ) {
            Ok(h) => h,
            Err(e) => {
                error!(error = %e, "related search failed");
                return Ok(Reply::text(INTERNAL_ERROR));
            }
        };
        let found = self.store.insights(&ids).await?;
        if found.is_empty() {
            return Ok(Reply::text("Nothing else on this yet."));
        }
        Ok(Reply {
            text: format!("More like #{id}:"),
            cards: found.iter().map(Card::from).collect(),
        })
    }

    async fn feeds(&self, ctx: &UserContext, arg: FeedsArg) -> Result<Reply, StoreError> {
        let who = match (ctx.chat.platform, &ctx.user_id) {
            (Platform::Console, _) => "console".to_string(),
            (p, Some(id)) => format!("{}:{id}", p.as_str()),
            (_, None) => String::new(),
        };
        if !self.settings.operators.contains(&who) {
            return Ok(Reply::text(
                "Only podbrief's operators can manage feeds (ingest.operators in the config).",
            ));
        }
        let result = match arg {
            FeedsArg::List => self.feeds.describe().await,
            FeedsArg::Add(url) => self.feeds.add(&url, self.clock.now()).await.map(|added| {
                if added {
                    format!("Added {url}; it is read within a minute.")
                } else {
                    format!("{url} is already a feed.")
                }
            }),
            FeedsArg::Remove(url) => self
                .feeds
                .remove(&url)
                .await
                .map(|_| format!("Removed {url} with its episodes and insights.")),
        };
        match result {
            Ok(text) => Ok(Reply::text(text)),
            Err(FeedAdminError::Store(e)) => Err(e),
            Err(FeedAdminError::Refused(e)) => Ok(Reply::text(format!("Refused: {e}"))),
        }
    }

    /// The ranked insights for a subscription's next brief (or for `/top` without one).
    pub async fn rank_for(
        &self,
        sub: Option<&Subscription>,
    ) -> Result<Vec<InsightView>, StoreError> {
        match sub {
            Some(s) => Ok(self
                .rank_many(&[s])
                .await?
                .pop()
                .map(Arc::unwrap_or_clone)
                .unwrap_or_default()),
            None => self.ranked_top(&[]).await,
        }
    }

    /// Today's top insights with a topic filter (`/topics` list), whatever was delivered.
    async fn ranked_top(&self, topics: &[String]) -> Result<Vec<InsightView>, StoreError> {
        let (key, all) = self.candidates().await?;
        Ok(Arc::unwrap_or_clone(self.rank_one(
            key,
            &all,
            &HashSet::new(),
            usize::from(self.settings.size),
            topics,
        )))
    }

    /// The ranked insights of each subscription's next brief, in order: the candidates are read
    /// once and the delivered insights of all of them in one query.
    pub async fn rank_many(
        &self,
        subs: &[&Subscription],
    ) -> Result<Vec<Arc<Vec<InsightView>>>, StoreError> {
        let (key, all) = self.candidates().await?;
        let mut delivered: HashMap<SubscriptionId, HashSet<InsightId>> = HashMap::new();
        if let Some(from) = all.iter().map(|c| c.id).min() {
            let ids: Vec<SubscriptionId> = subs.iter().map(|s| s.id).collect();
            for (sub, insight) in self.store.delivered_among(&ids, from).await? {
                delivered.entry(sub).or_default().insert(insight);
            }
        }
        let none = HashSet::new();
        Ok(subs
            .iter()
            .map(|s| {
                let seen = delivered.get(&s.id).unwrap_or(&none);
                self.rank_one(key, &all, seen, usize::from(s.size), &s.topics)
            })
            .collect())
    }

    /// The brief candidates, cached per minute of lookback window and newest insight: read once
    /// per fan-out, not per chat.
    async fn candidates(&self) -> Result<(CacheKey, Arc<Vec<InsightView>>), StoreError> {
        let since = self.clock.now() - self.settings.lookback;
        let since_minute =
            DateTime::from_timestamp(since.timestamp() - since.timestamp().rem_euclid(60), 0)
                .unwrap_or(since);
        let key = (since_minute, self.store.latest_insight_id().await?);
        {
            let cache = self.brief_cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.key == Some(key) {
                return Ok((key, cache.candidates.clone()));
            }
        }
        let fresh = Arc::new(self.store.brief_candidates(since_minute, None).await?);
        let mut cache = self.brief_cache.lock().unwrap_or_else(|e| e.into_inner());
        *cache = BriefCache {
            key: Some(key),
            candidates: fresh.clone(),
            ranked: Default::default(),
        };
        Ok((key, fresh))
    }

    /// Ranks `all` minus `delivered` for one brief; rankings of subscriptions with nothing
    /// delivered among the candidates are shared through the cache.
    fn rank_one(
        &self,
        key: CacheKey,
        all: &[InsightView],
        delivered: &HashSet<InsightId>,
        size: usize,
        topics: &[String],
    ) -> Arc<Vec<InsightView>> {
        let now = self.clock.now();
        let since = now - self.settings.lookback;
        let untouched = all.iter().all(|c| !delivered.contains(&c.id));
        let cache_key = (topics.to_vec(), size);
        if untouched
            && let Some(r) = self
                .brief_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .ranked
                .get(&cache_key)
        {
            return r.clone();
        }
        let candidates: Vec<InsightView> = all
            .iter()
            .filter(|c| c.published_at >= since && !delivered.contains(&c.id))
            .cloned()
            .collect();
        let filter = TopicFilter::from_list(topics);
        let ranked = Arc::new(rank(&candidates, &self.rules(size), &filter, now));
        if untouched {
            let mut cache = self.brief_cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.key == Some(key) {
                cache.ranked.insert(cache_key, ranked.clone());
            }
        }
        ranked
    }

    /// The brief as it stood at `at` for everyone (no topics, nothing delivered): the ranking of
    /// `candidates` published within the lookback window before `at` (a day's brief on the web).
    pub fn brief_at(&self, candidates: &[InsightView], at: DateTime<Utc>) -> Vec<InsightView> {
        let from = at.checked_sub_signed(self.settings.lookback).unwrap_or(at);
        let known: Vec<InsightView> = candidates
            .iter()
            .filter(|c| c.published_at <= at && c.published_at >= from)
            .cloned()
            .collect();
        let rules = self.rules(usize::from(self.settings.size));
        rank(&known, &rules, &TopicFilter::default(), at)
    }

    /// The ranking rules of a brief of `size` insights.
    fn rules(&self, size: usize) -> BriefRules {
        BriefRules {
            size,
            max_per_episode: self.settings.max_per_episode,
            max_per_podcast: self.settings.max_per_podcast,
            half_life_days: self.settings.half_life_days,
        }
    }

    fn describe(&self, s: &Subscription) -> String {
        let tz = s.timezone.tz();
        let mut lines = vec![
            format!("Daily brief: {}", schedule_words(s)),
            format!("Insights per brief: {}", s.size),
            format!(
                "Topics: {}",
                if s.topics.is_empty() {
                    "all".to_string()
                } else {
                    s.topics.join(", ")
                }
            ),
            format!("Next brief: {}", local(s.next_run_at, tz)),
        ];
        if let Some(r) = &s.paused_reason {
            lines.push(format!("Paused: {r}. Send /subscribe to resume."));
        }
        lines.join("\n")
    }
}

const NOT_SUBSCRIBED: &str = "This chat has no subscription yet. Send /subscribe [HH:MM] [Area/City], e.g. /subscribe 08:00 Europe/Paris.";

fn schedule_words(s: &Subscription) -> String {
    if s.schedule.is_daily() {
        format!("every day at {} ({})", s.schedule, s.timezone)
    } else {
        format!("on schedule \"{}\" ({})", s.schedule, s.timezone)
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %H:%M %Z")
        .to_string()
}

fn days(d: chrono::Duration) -> String {
    match d.num_days() {
        1 => "day".into(),
        n if n > 1 => format!("{n} days"),
        _ => format!("{} hours", d.num_hours()),
    }
}

fn example_topics(known: &[String]) -> String {
    match known {
        [] => "ai, chips, -crypto".into(),
        [a] => a.clone(),
        [a, b, ..] => format!("{a}, {b}"),
    }
}
