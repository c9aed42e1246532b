//! The SQL text both dialects run as it is (`$1` placeholders; a time is bound and decoded as its
//! dialect stores it). What differs is in [`Dialect`](super::dialect::Dialect)'s constants and
//! the backends' own statements.

/// The columns of [`rows::InsightColumns`](super::rows::InsightColumns).
pub const INSIGHT_VIEW: &str = "SELECT i.id, i.text, i.quote, i.start_ms, i.end_ms, i.speaker, i.score, i.topics, \
     i.content_hash, i.chapter, e.id AS episode_id, e.title AS episode_title, \
     COALESCE(e.link, e.audio_url) AS episode_link, \
     COALESCE(e.published_at, e.created_at) AS published_at, p.id AS podcast_id, p.title AS podcast_title \
     FROM insights i JOIN episodes e ON e.id = i.episode_id JOIN podcasts p ON p.id = e.podcast_id";

/// The columns of [`rows::SubscriptionColumns`](super::rows::SubscriptionColumns).
pub const SUBSCRIPTION: &str = "SELECT id, platform, chat_id, thread_id, schedule, timezone, size, topics, \
     next_run_at, paused_reason FROM subscriptions";

/// The columns of [`rows::FeedColumns`](super::rows::FeedColumns).
pub const FEED_ROW: &str = "SELECT p.id, p.feed_url, p.title, p.failures, p.last_error, p.disabled_reason, \
     p.etag, p.last_modified, p.next_poll_at, \
     (SELECT COUNT(*) FROM episodes e WHERE e.podcast_id = p.id) AS episodes FROM podcasts p";

/// The columns of [`rows::DeliveryColumns`](super::rows::DeliveryColumns).
const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, s.platform, s.chat_id, s.thread_id, d.occurrence, \
     d.status, d.attempts, d.error, d.sent_at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id";

/// Recent deliveries, newest first: `{}` is a filter (or nothing), `$1` the limit.
pub fn deliveries(filter: &str) -> String {
    format!("SELECT {DELIVERY_COLUMNS} {filter} ORDER BY d.occurrence DESC, d.id DESC LIMIT $1")
}

/// Each subscription's last delivery.
pub fn last_deliveries() -> String {
    format!(
        "SELECT * FROM (SELECT {}) AS last WHERE n = 1",
        DELIVERY_COLUMNS.replacen(
            " FROM",
            ", ROW_NUMBER() OVER (PARTITION BY d.subscription_id \
             ORDER BY d.occurrence DESC, d.id DESC) AS n FROM",
            1
        )
    )
}

/// Counts of what is stored, as [`Stats`](super::Stats).
pub const STATS: &str = "SELECT (SELECT COUNT(*) FROM podcasts) AS podcasts, \
     (SELECT COUNT(*) FROM episodes) AS episodes, (SELECT COUNT(*) FROM insights) AS insights, \
     (SELECT COUNT(*) FROM subscriptions) AS subscriptions";

// Feeds.

/// `$1` URL, `$2`-`$4` title, link, image, `$5` now.
pub const UPSERT_PODCAST: &str = "INSERT INTO podcasts (feed_url, title, link, image, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (feed_url) DO UPDATE SET title = excluded.title, \
     link = excluded.link, image = excluded.image, failures = 0, last_error = NULL RETURNING id";
/// `$1` URL (the title until the feed is read), `$2` now.
pub const ADD_FEED: &str = "INSERT INTO podcasts (feed_url, title, created_at) VALUES ($1, $1, $2) \
     ON CONFLICT (feed_url) DO NOTHING";
/// `$1` URL.
pub const REMOVE_FEED: &str = "DELETE FROM podcasts WHERE feed_url = $1 RETURNING id";
/// `$1` next poll, `$2` URL, `$3` ETag, `$4` Last-Modified.
pub const POLL_FETCHED: &str = "UPDATE podcasts SET etag = $3, last_modified = $4, failures = 0, \
     last_error = NULL, next_poll_at = $1 WHERE feed_url = $2";
/// `$1` next poll, `$2` URL.
pub const POLL_NOT_MODIFIED: &str =
    "UPDATE podcasts SET failures = 0, last_error = NULL, next_poll_at = $1 WHERE feed_url = $2";
/// `$1` next poll, `$2` URL, `$3` error, `$4` why it is disabled (or NULL).
pub const POLL_FAILED: &str = "UPDATE podcasts SET failures = failures + 1, last_error = $3, \
     disabled_reason = COALESCE($4, disabled_reason), next_poll_at = $1 WHERE feed_url = $2";
/// `$1` URL.
pub const ENABLE_FEED: &str = "UPDATE podcasts SET disabled_reason = NULL, failures = 0, \
     last_error = NULL, next_poll_at = NULL WHERE feed_url = $1";
/// `$1` new URL, `$2` old URL; nothing when the new URL is a feed already.
pub const MOVE_FEED: &str = "UPDATE podcasts SET feed_url = $1 WHERE feed_url = $2 \
     AND NOT EXISTS (SELECT 1 FROM podcasts WHERE feed_url = $1)";
/// `$1` lease end, `$2` URL, `$3` now.
pub const CLAIM_FEED: &str = "UPDATE podcasts SET next_poll_at = $1 WHERE feed_url = $2 \
     AND disabled_reason IS NULL AND (next_poll_at IS NULL OR next_poll_at <= $3)";

// Episodes and insights. An episode's columns are `$1`-`$9` in `episode_args` order; an
// insight's `$1`-`$11` in `insight_args` order.

/// `$1` podcast, `$2` guid.
pub const EPISODE_BY_GUID: &str = "SELECT id FROM episodes WHERE podcast_id = $1 AND guid = $2";
/// `$1` podcast, `$2` enclosure URL.
pub const EPISODE_BY_AUDIO: &str =
    "SELECT id FROM episodes WHERE podcast_id = $1 AND audio_url = $2 ORDER BY id LIMIT 1";
/// The episode's columns, `$10` its id.
pub const UPDATE_EPISODE: &str = "UPDATE episodes SET guid = $1, title = $2, link = $3, audio_url = $4, \
     published_at = $5, duration_s = $6, transcript_url = $7, transcript_kind = $8, show_notes = $9 \
     WHERE id = $10";
/// The episode's columns, `$10` podcast, `$11` now; followed by
/// [`Dialect::EPISODE_INSERTED`](super::dialect::Dialect::EPISODE_INSERTED).
pub const INSERT_EPISODE: &str = "INSERT INTO episodes (guid, title, link, audio_url, published_at, \
     duration_s, transcript_url, transcript_kind, show_notes, podcast_id, status, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', $11)";
/// `$1` status; newest first.
pub const EPISODES_WITH_STATUS: &str = "SELECT id, podcast_id, guid, title, link, audio_url, published_at, \
     duration_s, transcript_url, transcript_kind, show_notes, status FROM episodes WHERE status = $1 \
     ORDER BY COALESCE(published_at, created_at) DESC, id";
/// `$1` status, `$2` error, `$3` id.
pub const FINISH_EPISODE: &str = "UPDATE episodes SET status = $1, error = $2 WHERE id = $3";
/// `$1` chapters URL, `$2` chapters, `$3` soundbites, `$4` id.
pub const SET_MARKS: &str =
    "UPDATE episodes SET chapters_url = $1, chapters = $2, soundbites = $3 WHERE id = $4";
/// `$1` id.
pub const EPISODE_MARKS: &str =
    "SELECT chapters_url, chapters, soundbites FROM episodes WHERE id = $1";
/// `$1` subject, `$2` id.
pub const SET_SUBJECT: &str = "UPDATE episodes SET subject = $1 WHERE id = $2";
/// Every episode's subject that is not empty (a condition on `id` may follow).
pub const EPISODE_SUBJECTS: &str = "SELECT id, subject FROM episodes WHERE subject <> ''";
/// `$1` episode.
pub const EPISODE_INSIGHTS: &str = "SELECT i.id, i.quote, i.start_ms, i.end_ms, i.engine, i.prompt_version, \
     EXISTS (SELECT 1 FROM delivered_insights d WHERE d.insight_id = i.id) AS delivered \
     FROM insights i WHERE i.episode_id = $1 ORDER BY i.id";
/// The insight's columns, `$12` episode, `$13` now; skipped when its content hash exists.
pub const INSERT_INSIGHT: &str = "INSERT INTO insights (text, quote, start_ms, end_ms, speaker, score, \
     topics, content_hash, chapter, engine, prompt_version, episode_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (content_hash) DO NOTHING RETURNING id";
/// The insight's columns, `$12` its id, `$13` episode; unchanged when another insight has its
/// new text.
pub const UPDATE_INSIGHT: &str = "UPDATE insights SET text = $1, quote = $2, start_ms = $3, end_ms = $4, \
     speaker = $5, score = $6, topics = $7, content_hash = $8, chapter = $9, engine = $10, \
     prompt_version = $11 WHERE id = $12 AND episode_id = $13 \
     AND NOT EXISTS (SELECT 1 FROM insights o WHERE o.content_hash = $8 AND o.id <> $12)";
/// `$1` id, `$2` episode.
pub const DELETE_INSIGHT: &str = "DELETE FROM insights WHERE id = $1 AND episode_id = $2";
/// The newest insight's id.
pub const LATEST_INSIGHT_ID: &str = "SELECT MAX(id) FROM insights";

// Subscriptions.

/// `$1`-`$3` chat, `$4` schedule, `$5` zone, `$6` size, `$7` topics, `$8` next run, `$9` who,
/// `$10` now, `$11` scope.
pub const UPSERT_SUBSCRIPTION: &str = "INSERT INTO subscriptions (platform, chat_id, thread_id, schedule, \
     timezone, size, topics, next_run_at, created_by, created_at, scope_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET schedule = excluded.schedule, \
     timezone = excluded.timezone, next_run_at = excluded.next_run_at, paused_reason = NULL, \
     scope_id = COALESCE(excluded.scope_id, subscriptions.scope_id)";
/// `$1`-`$3` chat (platform, chat id, thread id or `''`).
pub const BY_CHAT: &str = "platform = $1 AND chat_id = $2 AND thread_id = $3";
/// `$1` schedule, `$2` zone, `$3` size, `$4` topics, `$5` next run, `$6` id.
pub const UPDATE_SUBSCRIPTION: &str = "UPDATE subscriptions SET schedule = $1, timezone = $2, size = $3, \
     topics = $4, next_run_at = $5 WHERE id = $6";
/// `$1` reason, `$2` id.
pub const PAUSE_SUBSCRIPTION: &str = "UPDATE subscriptions SET paused_reason = $1 WHERE id = $2";
/// `$1` reason, `$2` platform, `$3` chat id, `$4` thread id (NULL: every thread of the chat).
pub const PAUSE_CHAT: &str = "UPDATE subscriptions SET paused_reason = $1 WHERE platform = $2 \
     AND chat_id = $3 AND (CAST($4 AS TEXT) IS NULL OR thread_id = $4)";
/// `$1` reason, `$2` platform, `$3` scope.
pub const PAUSE_SCOPE: &str =
    "UPDATE subscriptions SET paused_reason = $1 WHERE platform = $2 AND scope_id = $3";
/// `$1` new chat id, `$2` platform, `$3` old chat id; a row whose new key is taken stays.
pub const MOVE_CHAT: &str = "UPDATE subscriptions AS s SET chat_id = $1 WHERE s.platform = $2 \
     AND s.chat_id = $3 AND NOT EXISTS (SELECT 1 FROM subscriptions o \
     WHERE o.platform = s.platform AND o.chat_id = $1 AND o.thread_id = s.thread_id)";
/// The earliest next run of the active subscriptions.
pub const NEXT_RUN_AT: &str =
    "SELECT MIN(next_run_at) FROM subscriptions WHERE paused_reason IS NULL";

// The delivery queue.

/// `$1` next attempt, `$2` error (NULL keeps the last), `$3` id.
pub const RETRY_DELIVERY: &str = "UPDATE deliveries SET next_attempt_at = $1, \
     error = COALESCE($2, error), lease_until = NULL WHERE id = $3";
/// When the oldest pending delivery is due.
pub const OLDEST_PENDING: &str = "SELECT MIN(COALESCE(next_attempt_at, occurrence)) FROM deliveries \
     WHERE status = 'pending'";
