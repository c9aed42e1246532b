//! Command → Reply: what the bot answers, whatever the platform.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tracing::error;

use crate::config::{Config, EmptyBrief};
use crate::core::brief::{BriefRules, TopicFilter, rank};
use crate::core::clock::Clock;
use crate::core::command::{COMMANDS, Command, CommandError, FeedsArg, ParseContext, TopicsArg};
use crate::core::model::{
    Card, ChatRef, InsightId, InsightView, Platform, Reply, Subscription, SubscriptionId,
};
use crate::core::schedule::{Schedule, parse_timezone};
use crate::search::SearchIndex;
use crate::store::{NewSubscription, Store, StoreError};

/// The settings the core needs, taken from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default insights per brief.
    pub size: u8,
    /// Default time of day.
    pub default_time: String,
    /// Default timezone.
    pub default_timezone: String,
    /// How far back episodes enter a brief.
    pub lookback: chrono::Duration,
    /// Freshness half-life in days.
    pub half_life_days: f64,
    /// Per-episode cap in a brief.
    pub max_per_episode: usize,
    /// Per-podcast cap in a brief.
    pub max_per_podcast: usize,
    /// What an empty brief does.
    pub empty: EmptyBrief,
    /// Lookup results.
    pub results: usize,
    /// Whether "more like this" may return the same episode.
    pub related_same_episode: bool,
    /// Who may manage feeds from chat (`console`, `telegram:ID`, `discord:ID`).
    pub operators: Vec<String>,
    /// Whether chat-added feeds may point at private addresses.
    pub allow_private_feeds: bool,
}

impl Settings {
    /// Settings from a validated config.
    pub fn from_config(c: &Config) -> Settings {
        let days = |s: &str| Config::duration(s).as_secs_f64() / 86_400.0;
        Settings {
            size: c.brief.size,
            default_time: c.brief.default_time.clone(),
            default_timezone: c.brief.default_timezone.clone(),
            lookback: chrono::Duration::from_std(Config::duration(&c.brief.lookback))
                .unwrap_or(chrono::Duration::days(7)),
            half_life_days: days(&c.brief.half_life),
            max_per_episode: c.brief.max_per_episode,
            max_per_podcast: c.brief.max_per_podcast,
            empty: c.brief.empty,
            results: c.search.results,
            related_same_episode: c.search.related_same_episode,
            operators: c.ingest.operators.clone(),
            allow_private_feeds: c.ingest.allow_private,
        }
    }
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
    index: Arc<SearchIndex>,
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
    /// A core over a store and an index.
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Core {
        Core {
            store,
            index,
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

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The most common topics of the indexed insights, most frequent first.
    pub fn top_topics(&self, n: usize) -> Vec<String> {
        self.index.top_topics(n)
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
        let manages = matches!(
            cmd,
            Command::Subscribe { .. }
                | Command::Unsubscribe
                | Command::Topics(TopicsArg::Set(_) | TopicsArg::Clear)
                | Command::Size(_)
                | Command::Time { .. }
        );
        if manages && !ctx.can_manage {
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
                let lines: Vec<String> =
                    COMMANDS.iter().map(|(c, d)| format!("{c} — {d}")).collect();
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
            Command::Time { time, timezone } => match self.store.subscription(&ctx.chat).await? {
                Some(mut s) => {
                    let tz_name = timezone.unwrap_or(s.timezone.clone());
                    let (schedule, tz) = match (Schedule::parse(&time), parse_timezone(&tz_name)) {
                        (Ok(sc), Ok(tz)) => (sc, tz),
                        (Err(e), _) => return Ok(Reply::text(e.to_string())),
                        (_, Err(e)) => return Ok(Reply::text(e.to_string())),
                    };
                    let Some(next) = schedule.next_after(self.clock.now(), tz) else {
                        return Ok(Reply::text("That schedule never runs."));
                    };
                    s.schedule = time;
                    s.timezone = tz.name().to_string();
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
            },
            Command::Top => {
                // A subscribed chat's /top keeps its topic preferences and exclusions.
                let topics = match self.store.subscription(&ctx.chat).await? {
                    Some(s) => s.topics,
                    None => Vec::new(),
                };
                let picked = self.top(&topics).await?;
                if picked.is_empty() {
                    Reply::text(format!(
                        "No insights yet from episodes of the last {}. Try again after the next ingest.",
                        days(self.settings.lookback)
                    ))
                } else {
                    Reply {
                        text: format!("Top {} insights:", picked.len()),
                        cards: picked.iter().map(Card::from).collect(),
                    }
                }
            }
            Command::Related(q) => self.related(&q).await?,
            Command::More(id) => self.more(id).await?,
            Command::Feeds(arg) => self.feeds(ctx, arg).await?,
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
            .or_else(|| existing.as_ref().map(|s| s.schedule.clone()))
            .unwrap_or_else(|| self.settings.default_time.clone());
        let tz_name = timezone
            .or_else(|| existing.as_ref().map(|s| s.timezone.clone()))
            .unwrap_or_else(|| self.settings.default_timezone.clone());
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
                let known = self.index.top_topics(8);
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

    async fn related(&self, q: &str) -> Result<Reply, StoreError> {
        let _timer = self.metrics.lookup_timer();
        let shown: String = q.chars().take(100).collect();
        let hits = match self
            .index
            .search_hybrid(q, self.settings.results, self.clock.now())
            .await
        {
            Ok(h) => h,
            Err(e) => {
                error!(error = %e, "search failed");
                return Ok(Reply::text(INTERNAL_ERROR));
            }
        };
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let found = self.store.insights(&ids).await?;
        if found.is_empty() {
            let known = self.index.top_topics(5);
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

    async fn more(&self, id: i64) -> Result<Reply, StoreError> {
        let _timer = self.metrics.lookup_timer();
        let Some(insight) = self.store.insights(&[id]).await?.into_iter().next() else {
            return Ok(Reply::text(format!("There is no insight #{id}.")));
        };
        let hits = match self.index.related(
            &insight,
            self.settings.results,
            self.settings.related_same_episode,
            self.clock.now(),
        ) {
            Ok(h) => h,
            Err(e) => {
                error!(error = %e, "related search failed");
                return Ok(Reply::text(INTERNAL_ERROR));
            }
        };
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let found = self.store.insights(&ids).await?;
        if found.is_empty() {
            return Ok(Reply::text(format!("Nothing else like #{id} yet.")));
        }
        Ok(Reply {
            text: format!("More like #{id}:"),
            cards: found.iter().map(Card::from).collect(),
        })
    }

    async fn feeds(&self, ctx: &UserContext, arg: FeedsArg) -> Result<Reply, StoreError> {
        use crate::ingest::manage::{self, ManageError};
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
        let store = self.store.as_ref();
        let result = match arg {
            FeedsArg::List => return Ok(Reply::text(manage::describe(&store.feeds().await?))),
            FeedsArg::Add(url) => manage::add(
                store,
                &url,
                true,
                self.settings.allow_private_feeds,
                self.clock.now(),
            )
            .await
            .map(|added| {
                if added {
                    format!("Added {url}; it is read within a minute.")
                } else {
                    format!("{url} is already a feed.")
                }
            }),
            FeedsArg::Remove(url) => manage::remove(store, &url)
                .await
                .map(|_| format!("Removed {url} with its episodes and insights.")),
        };
        match result {
            Ok(text) => Ok(Reply::text(text)),
            Err(ManageError::Store(e)) => Err(e),
            Err(e) => Ok(Reply::text(format!("Refused: {e}"))),
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
            None => self.top(&[]).await,
        }
    }

    /// Today's top insights with a topic filter (`/topics` list), whatever was delivered.
    async fn top(&self, topics: &[String]) -> Result<Vec<InsightView>, StoreError> {
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
        let rules = BriefRules {
            size,
            max_per_episode: self.settings.max_per_episode,
            max_per_podcast: self.settings.max_per_podcast,
            half_life_days: self.settings.half_life_days,
        };
        let filter = TopicFilter::from_list(topics);
        let ranked = Arc::new(rank(&candidates, &rules, &filter, now));
        if untouched {
            let mut cache = self.brief_cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.key == Some(key) {
                cache.ranked.insert(cache_key, ranked.clone());
            }
        }
        ranked
    }

    /// The brief message for a subscription: `None` when there is nothing new and empty briefs
    /// are skipped.
    pub async fn brief(&self, sub: &Subscription) -> Result<Option<(Reply, Vec<i64>)>, StoreError> {
        Ok(self
            .briefs(&[sub])
            .await?
            .pop()
            .flatten()
            .map(|(reply, ids)| (Arc::unwrap_or_clone(reply), ids)))
    }

    /// The brief messages of several subscriptions (a fan-out batch), in order, with the ids of
    /// the insights each carries; `None` where there is nothing new and empty briefs are skipped.
    pub async fn briefs(
        &self,
        subs: &[&Subscription],
    ) -> Result<Vec<Option<(Arc<Reply>, Vec<InsightId>)>>, StoreError> {
        let ranked = self.rank_many(subs).await?;
        let now = self.clock.now();
        // Subscriptions that get the same insights on the same local date share one reply, so a
        // fan-out renders each distinct brief once.
        let mut shared: HashMap<(String, Vec<InsightId>), Arc<Reply>> = HashMap::new();
        // The local date, worked out once per timezone of the batch.
        let mut dates: HashMap<&str, String> = HashMap::new();
        Ok(subs
            .iter()
            .zip(ranked)
            .map(|(sub, picked)| {
                let date = dates
                    .entry(sub.timezone.as_str())
                    .or_insert_with(|| {
                        let tz: Tz = parse_timezone(&sub.timezone).unwrap_or(Tz::UTC);
                        now.with_timezone(&tz).format("%A %-d %B").to_string()
                    })
                    .clone();
                if picked.is_empty() && self.settings.empty == EmptyBrief::Skip {
                    return None;
                }
                let ids: Vec<InsightId> = picked.iter().map(|i| i.id).collect();
                let reply = shared
                    .entry((date, ids.clone()))
                    .or_insert_with_key(|(date, _)| {
                        Arc::new(if picked.is_empty() {
                            Reply::text(format!("podbrief for {date}: nothing new today."))
                        } else {
                            Reply {
                                text: format!(
                                    "podbrief for {date}: the top {} insights",
                                    picked.len()
                                ),
                                cards: picked.iter().map(Card::from).collect(),
                            }
                        })
                    })
                    .clone();
                Some((reply, ids))
            })
            .collect())
    }

    fn describe(&self, s: &Subscription) -> String {
        let tz: Tz = parse_timezone(&s.timezone).unwrap_or(Tz::UTC);
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
    if crate::core::schedule::parse_hhmm(&s.schedule).is_some() {
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
