//! Rows as both dialects return them, and their mapping into podbrief's types, written once.
//!
//! Each row type derives [`sqlx::FromRow`] for any row whose columns decode to its fields, so a
//! SQLite row and a PostgreSQL row of the same query map the same way. The one column type the
//! dialects store differently is a time: [`Stamp`] decodes it (its `Decode` for each dialect is
//! in that dialect's file).

use chrono::{DateTime, Utc};

use super::types::{DeliveryRow, FeedRow, StoredInsight};
use super::{StoreError, StoreResult};
use crate::core::model::{
    ChatRef, Episode, EpisodeId, EpisodeMarks, InsightView, NewEpisode, Origin, Platform,
    Subscription,
};

/// A stored time in UTC: fixed-width RFC 3339 text in SQLite, `TIMESTAMPTZ` in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub DateTime<Utc>);

/// A stored list (topics, message ids) as its JSON text; an unreadable one reads as empty.
pub fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A JSON array: a list to store, or ids for a query to read as a set.
pub fn list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A database error, with a stored value a row could not decode reported as [`StoreError::Corrupt`]
/// (as when it is read by hand).
pub fn decoded(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::ColumnDecode { source, .. } = &e
        && let Some(StoreError::Corrupt(what)) = source.downcast_ref::<StoreError>()
    {
        return StoreError::Corrupt(what.clone());
    }
    StoreError::Database(e)
}

/// An insight joined with its episode and podcast (`sql::INSIGHT_VIEW`).
#[derive(sqlx::FromRow)]
pub struct InsightColumns {
    id: i64,
    text: String,
    quote: String,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    speaker: Option<String>,
    score: f64,
    topics: String,
    content_hash: String,
    chapter: Option<String>,
    episode_id: i64,
    episode_title: String,
    episode_link: Option<String>,
    published_at: Stamp,
    podcast_id: i64,
    podcast_title: String,
}

impl From<InsightColumns> for InsightView {
    fn from(r: InsightColumns) -> InsightView {
        InsightView {
            id: r.id,
            text: r.text,
            quote: r.quote,
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            speaker: r.speaker,
            score: r.score,
            topics: parse_list(&r.topics),
            content_hash: r.content_hash,
            episode_id: r.episode_id,
            episode_title: r.episode_title,
            episode_link: r.episode_link,
            published_at: r.published_at.0,
            podcast_id: r.podcast_id,
            podcast_title: r.podcast_title,
            chapter: r.chapter,
        }
    }
}

/// A subscription row (`sql::SUBSCRIPTION`).
#[derive(sqlx::FromRow)]
pub struct SubscriptionColumns {
    id: i64,
    platform: String,
    chat_id: String,
    thread_id: String,
    schedule: String,
    timezone: String,
    size: i64,
    topics: String,
    next_run_at: Stamp,
    paused_reason: Option<String>,
}

impl TryFrom<SubscriptionColumns> for Subscription {
    type Error = StoreError;

    fn try_from(r: SubscriptionColumns) -> StoreResult<Subscription> {
        Ok(Subscription {
            id: r.id,
            chat: ChatRef {
                platform: platform(&r.platform)?,
                chat_id: r.chat_id,
                thread_id: (!r.thread_id.is_empty()).then_some(r.thread_id),
            },
            schedule: crate::core::schedule::Schedule::parse(&r.schedule)?,
            timezone: crate::core::schedule::Zone::parse(&r.timezone)?,
            size: u8::try_from(r.size).unwrap_or(u8::MAX),
            topics: parse_list(&r.topics),
            next_run_at: r.next_run_at.0,
            paused_reason: r.paused_reason,
        })
    }
}

/// A stored platform name.
fn platform(name: &str) -> StoreResult<Platform> {
    Platform::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown platform {name:?}")))
}

/// Subscriptions from their rows; the first unreadable one fails them all.
/// Subscription rows as subscriptions. A row that no longer reads (a schedule, zone or platform
/// this version does not know) is left out with a warning naming it, so one bad row never stops
/// the others' briefs.
pub fn subscriptions(rows: Vec<SubscriptionColumns>) -> StoreResult<Vec<Subscription>> {
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let id = r.id;
            Subscription::try_from(r)
                .map_err(|e| tracing::warn!(subscription = id, error = %e, "subscription skipped"))
                .ok()
        })
        .collect())
}

/// A feed with its polling state and episode count (`sql::FEED_ROW`).
#[derive(sqlx::FromRow)]
pub struct FeedColumns {
    id: i64,
    feed_url: String,
    title: String,
    failures: i64,
    last_error: Option<String>,
    disabled_reason: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    next_poll_at: Option<Stamp>,
    episodes: i64,
}

impl From<FeedColumns> for FeedRow {
    fn from(r: FeedColumns) -> FeedRow {
        FeedRow {
            id: r.id,
            feed_url: r.feed_url,
            title: r.title,
            failures: r.failures,
            last_error: r.last_error,
            disabled_reason: r.disabled_reason,
            etag: r.etag,
            last_modified: r.last_modified,
            next_poll_at: r.next_poll_at.map(|t| t.0),
            episodes: r.episodes,
        }
    }
}

/// A delivery with its subscription's chat (`sql::DELIVERY_ROW`).
#[derive(sqlx::FromRow)]
pub struct DeliveryColumns {
    id: i64,
    subscription_id: i64,
    platform: String,
    chat_id: String,
    thread_id: String,
    occurrence: Stamp,
    status: String,
    attempts: i64,
    error: Option<String>,
    sent_at: Option<Stamp>,
}

impl From<DeliveryColumns> for DeliveryRow {
    fn from(r: DeliveryColumns) -> DeliveryRow {
        let (platform, chat, thread) = (r.platform, r.chat_id, r.thread_id);
        DeliveryRow {
            id: r.id,
            subscription_id: r.subscription_id,
            chat: if thread.is_empty() {
                format!("{platform}:{chat}")
            } else {
                format!("{platform}:{chat}:{thread}")
            },
            occurrence: r.occurrence.0,
            status: r.status,
            attempts: r.attempts,
            error: r.error,
            sent_at: r.sent_at.map(|t| t.0),
        }
    }
}

/// An episode row (`sql::EPISODES_WITH_STATUS`).
#[derive(sqlx::FromRow)]
pub struct EpisodeColumns {
    id: i64,
    podcast_id: i64,
    guid: String,
    title: String,
    link: Option<String>,
    audio_url: Option<String>,
    published_at: Option<Stamp>,
    duration_s: Option<i64>,
    transcript_url: Option<String>,
    transcript_kind: Option<String>,
    show_notes: Option<String>,
    status: String,
}

impl From<EpisodeColumns> for Episode {
    fn from(r: EpisodeColumns) -> Episode {
        Episode {
            id: r.id,
            podcast_id: r.podcast_id,
            status: r.status,
            meta: NewEpisode {
                guid: r.guid,
                title: r.title,
                link: r.link,
                audio_url: r.audio_url,
                published_at: r.published_at.map(|t| t.0),
                duration_s: r.duration_s,
                transcript_url: r.transcript_url,
                transcript_kind: r.transcript_kind,
                show_notes: r.show_notes,
            },
        }
    }
}

/// A stored insight as re-extraction reads it (`sql::EPISODE_INSIGHTS`).
#[derive(sqlx::FromRow)]
pub struct StoredInsightColumns {
    id: i64,
    quote: String,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    engine: String,
    prompt_version: Option<String>,
    delivered: bool,
}

impl From<StoredInsightColumns> for StoredInsight {
    fn from(r: StoredInsightColumns) -> StoredInsight {
        StoredInsight {
            id: r.id,
            quote: r.quote,
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            origin: Origin {
                engine: r.engine,
                prompt_version: r.prompt_version,
            },
            delivered: r.delivered,
        }
    }
}

/// An episode's chapters and soundbites as their stored JSON columns.
pub fn marks_columns(marks: &EpisodeMarks) -> (String, String) {
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "[]".into());
    (
        json(serde_json::to_string(&marks.chapters)),
        json(serde_json::to_string(&marks.soundbites)),
    )
}

/// An episode's marks from its stored columns; unreadable JSON is `Corrupt`, naming the episode.
pub fn marks_from_columns(
    id: EpisodeId,
    chapters_url: Option<String>,
    chapters: &str,
    soundbites: &str,
) -> StoreResult<EpisodeMarks> {
    let corrupt = |what: &str, e: serde_json::Error| {
        StoreError::Corrupt(format!("episode {id}: {what}: {e}"))
    };
    Ok(EpisodeMarks {
        chapters_url,
        chapters: serde_json::from_str(chapters).map_err(|e| corrupt("chapters", e))?,
        soundbites: serde_json::from_str(soundbites).map_err(|e| corrupt("soundbites", e))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, schedule: &str) -> SubscriptionColumns {
        SubscriptionColumns {
            id,
            platform: "telegram".into(),
            chat_id: id.to_string(),
            thread_id: String::new(),
            schedule: schedule.into(),
            timezone: "Europe/Paris".into(),
            size: 3,
            topics: "[]".into(),
            next_run_at: Stamp(DateTime::UNIX_EPOCH),
            paused_reason: None,
        }
    }

    #[test]
    fn a_row_that_no_longer_reads_is_skipped_and_the_others_are_kept() {
        let subs = subscriptions(vec![row(1, "08:00"), row(2, "25:99"), row(3, "07:30")]).unwrap();
        let ids: Vec<i64> = subs.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(subs[0].timezone.as_str(), "Europe/Paris");
    }
}
