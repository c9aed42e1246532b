//! The store logic, written once: every role implemented for any [`Dialect`] with the shared SQL
//! text (`sql.rs`) and row mapping (`rows.rs`), the dialect's own statements called where they
//! differ.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Arg, Conn, Dialect, args};
use super::rows::{
    self, DeliveryColumns, EpisodeColumns, FeedColumns, InsightColumns, Stamp,
    StoredInsightColumns, SubscriptionColumns,
};
use super::sql;
use super::types::{
    Delivery, DeliveryDone, DeliveryRow, FeedRow, NewSubscription, Plan, PollRecord, Reextraction,
    Stats, StoredInsight,
};
use super::{
    DeliveryStore, FeedStore, InsightStore, InstanceLock, Store, StoreError, StoreResult,
    SubscriptionStore,
};
use crate::core::model::{
    ChatRef, Episode, EpisodeId, EpisodeMarks, InsightId, InsightView, NewEpisode, NewInsight,
    Platform, PodcastId, PodcastMeta, Subscription, SubscriptionId,
};

/// The one row a query returns.
async fn one<D: Dialect, T: super::dialect::Fetched>(
    d: &D,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Option<T>> {
    Ok(d.read(sql, args).await?.into_iter().next())
}

/// A query's single value (`MIN`, `MAX`: NULL over no rows).
async fn scalar<D: Dialect, T>(d: &D, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<T>>
where
    (Option<T>,): super::dialect::Fetched,
{
    Ok(one::<D, (Option<T>,)>(d, sql, args)
        .await?
        .and_then(|(v,)| v))
}

/// An insight's columns, `$1`-`$11` of `sql::INSERT_INSIGHT` and `sql::UPDATE_INSIGHT`.
fn insight_args(i: &NewInsight) -> Vec<Arg<'_>> {
    args![
        &i.text,
        &i.quote,
        i.start_ms,
        i.end_ms,
        &i.speaker,
        i.score,
        rows::list(&i.topics),
        crate::core::text::content_hash(&i.text),
        &i.chapter,
        &i.origin.engine,
        &i.origin.prompt_version,
    ]
    .to_vec()
}

/// An episode's columns, `$1`-`$9` of `sql::INSERT_EPISODE` and `sql::UPDATE_EPISODE`.
fn episode_args(ep: &NewEpisode) -> Vec<Arg<'_>> {
    args![
        &ep.guid,
        &ep.title,
        &ep.link,
        &ep.audio_url,
        ep.published_at,
        ep.duration_s,
        &ep.transcript_url,
        &ep.transcript_kind,
        &ep.show_notes,
    ]
    .to_vec()
}

/// `args` with `more` after them.
fn with<'a>(mut args: Vec<Arg<'a>>, more: &[Arg<'a>]) -> Vec<Arg<'a>> {
    args.extend_from_slice(more);
    args
}

/// A chat as `sql::BY_CHAT`'s `$1`-`$3`.
fn chat_args(chat: &ChatRef) -> Vec<Arg<'_>> {
    args![
        chat.platform.as_str(),
        &chat.chat_id,
        chat.thread_id.as_deref().unwrap_or(""),
    ]
    .to_vec()
}

/// A move another instance made at the same moment (its new key now taken) counts as not made
/// here.
fn unless_taken(moved: StoreResult<u64>) -> StoreResult<bool> {
    match moved {
        Ok(n) => Ok(n > 0),
        Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Inserts insights of an episode in a transaction, skipping any whose content hash exists; the
/// ids of the new ones.
async fn insert_insights_in(
    tx: &mut impl Conn,
    episode: EpisodeId,
    insights: &[NewInsight],
    now: DateTime<Utc>,
) -> StoreResult<Vec<InsightId>> {
    let mut ids = Vec::new();
    for i in insights {
        let args = with(insight_args(i), args![episode, now]);
        let id: Vec<(i64,)> = tx.fetch(sql::INSERT_INSIGHT, &args).await?;
        ids.extend(id.into_iter().map(|(id,)| id));
    }
    Ok(ids)
}

/// Insights of a query on `sql::INSIGHT_VIEW`.
async fn insight_views<D: Dialect>(
    d: &D,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Vec<InsightView>> {
    let rows: Vec<InsightColumns> = d.read(sql, args).await?;
    Ok(rows.into_iter().map(InsightView::from).collect())
}

/// Subscriptions of a query on `sql::SUBSCRIPTION`.
async fn subscriptions<D: Dialect>(
    d: &D,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Vec<Subscription>> {
    rows::subscriptions(d.read::<SubscriptionColumns>(sql, args).await?)
}

/// Episodes in one processing status (`new`, `done`), newest first.
async fn episodes_with_status<D: Dialect>(d: &D, status: &str) -> StoreResult<Vec<Episode>> {
    let rows: Vec<EpisodeColumns> = d.read(sql::EPISODES_WITH_STATUS, args![status]).await?;
    Ok(rows.into_iter().map(Episode::from).collect())
}

/// A claimed delivery row before its subscription is joined: id, subscription id, occurrence,
/// attempts.
pub type ClaimedRow = (i64, SubscriptionId, Stamp, i64);

/// Claimed rows with their subscriptions (read in one query), in due order.
pub async fn claimed<D: Dialect>(d: &D, rows: Vec<ClaimedRow>) -> StoreResult<Vec<Delivery>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    // One statement whatever the batch size (the ids as one value), so it stays prepared.
    let sql = format!("{} WHERE id {}", sql::SUBSCRIPTION, D::IN_IDS);
    let subs = subscriptions(d, &sql, args![&ids[..]]).await?;
    Ok(join_claimed(rows, subs))
}

/// Joins claimed rows with their subscriptions, in due order: occurrence, then id. A row whose
/// subscription is gone is left out. (The subscriptions are searched sorted: a hash map of a
/// batch's subscriptions cost more to build than the rest of the join.)
fn join_claimed(rows: Vec<ClaimedRow>, mut subs: Vec<Subscription>) -> Vec<Delivery> {
    subs.sort_unstable_by_key(|s| s.id);
    let ids: Vec<SubscriptionId> = subs.iter().map(|s| s.id).collect();
    // Each subscription moves into its first delivery; a second delivery of the same one (a
    // retry beside a new occurrence) gets a copy.
    let mut subs: Vec<Option<Subscription>> = subs.into_iter().map(Some).collect();
    let mut first: Vec<usize> = vec![usize::MAX; ids.len()];
    let mut out: Vec<Delivery> = Vec::with_capacity(rows.len());
    for (id, sub, occurrence, attempts) in rows {
        let Ok(i) = ids.binary_search(&sub) else {
            continue;
        };
        let subscription = match subs[i].take() {
            Some(s) => {
                first[i] = out.len();
                s
            }
            None => out[first[i]].subscription.clone(),
        };
        out.push(Delivery {
            id,
            occurrence: occurrence.0,
            attempts,
            subscription,
        });
    }
    out.sort_by_key(|d| (d.occurrence, d.id));
    out
}

#[async_trait]
impl<D: Dialect> FeedStore for D {
    async fn upsert_podcast(
        &self,
        feed_url: &str,
        meta: &PodcastMeta,
        now: DateTime<Utc>,
    ) -> StoreResult<PodcastId> {
        let args = args![feed_url, &meta.title, &meta.link, &meta.image, now];
        let id: Vec<(i64,)> = self.write(sql::UPSERT_PODCAST, args).await?;
        id.first()
            .map(|(id,)| *id)
            .ok_or_else(|| StoreError::Corrupt("podcast upsert returned no id".into()))
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRow>> {
        let sql = format!("{} ORDER BY p.title{}, p.id", sql::FEED_ROW, D::BYTE_ORDER);
        let rows: Vec<FeedColumns> = self.read(&sql, &[]).await?;
        Ok(rows.into_iter().map(FeedRow::from).collect())
    }

    async fn podcast_image(&self, id: PodcastId) -> StoreResult<Option<String>> {
        let image: Vec<(Option<String>,)> = self
            .read("SELECT image FROM podcasts WHERE id = $1", args![id])
            .await?;
        Ok(image.into_iter().next().and_then(|(image,)| image))
    }

    async fn feed(&self, feed_url: &str) -> StoreResult<Option<FeedRow>> {
        let sql = format!("{} WHERE p.feed_url = $1", sql::FEED_ROW);
        let row: Option<FeedColumns> = one(self, &sql, args![feed_url]).await?;
        Ok(row.map(FeedRow::from))
    }

    async fn add_feed(&self, feed_url: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(sql::ADD_FEED, args![feed_url, now]).await? > 0)
    }

    async fn remove_feed(&self, feed_url: &str) -> StoreResult<Option<PodcastId>> {
        let id: Vec<(i64,)> = self.write(sql::REMOVE_FEED, args![feed_url]).await?;
        Ok(id.first().map(|(id,)| *id))
    }

    async fn record_poll(
        &self,
        feed_url: &str,
        record: &PollRecord,
        next_poll_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.add_feed(feed_url, now).await?;
        let (sql, more) = match record {
            PollRecord::Fetched {
                etag,
                last_modified,
            } => (sql::POLL_FETCHED, args![etag, last_modified]),
            PollRecord::NotModified => (sql::POLL_NOT_MODIFIED, args![]),
            PollRecord::Failed { error, disable } => (sql::POLL_FAILED, args![error, disable]),
        };
        let args = with(args![next_poll_at, feed_url].to_vec(), more);
        self.execute(sql, &args).await?;
        Ok(())
    }

    async fn enable_feed(&self, feed_url: &str) -> StoreResult<bool> {
        Ok(self.execute(sql::ENABLE_FEED, args![feed_url]).await? > 0)
    }

    async fn claim_feed(
        &self,
        feed_url: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let args = args![lease_until, feed_url, now];
        Ok(self.execute(sql::CLAIM_FEED, args).await? > 0)
    }

    async fn move_feed(&self, old_url: &str, new_url: &str) -> StoreResult<bool> {
        unless_taken(self.execute(sql::MOVE_FEED, args![new_url, old_url]).await)
    }
}

#[async_trait]
impl<D: Dialect> InsightStore for D {
    async fn upsert_episode(
        &self,
        podcast: PodcastId,
        ep: &NewEpisode,
        now: DateTime<Utc>,
    ) -> StoreResult<(EpisodeId, bool)> {
        let mut tx = self.begin().await?;
        let mut existing: Vec<(i64,)> = tx
            .fetch(sql::EPISODE_BY_GUID, args![podcast, &ep.guid])
            .await?;
        if existing.is_empty()
            && let Some(audio) = &ep.audio_url
        {
            // A feed that changed an episode's guid: the same enclosure is the same episode.
            existing = tx
                .fetch(sql::EPISODE_BY_AUDIO, args![podcast, audio])
                .await?;
        }
        let result = match existing.first() {
            Some(&(id,)) => {
                let args = with(episode_args(ep), args![id]);
                tx.execute(sql::UPDATE_EPISODE, &args).await?;
                (id, false)
            }
            None => {
                let sql = format!("{} {}", sql::INSERT_EPISODE, D::EPISODE_INSERTED);
                let args = with(episode_args(ep), args![podcast, now]);
                let row: Vec<(i64, bool)> = tx.fetch(&sql, &args).await?;
                *row.first()
                    .ok_or_else(|| StoreError::Corrupt("episode insert returned no id".into()))?
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn pending_episodes(&self) -> StoreResult<Vec<Episode>> {
        episodes_with_status(self, "new").await
    }

    async fn finish_episode(&self, id: EpisodeId, error: Option<&str>) -> StoreResult<()> {
        let status = if error.is_some() { "failed" } else { "done" };
        self.execute(sql::FINISH_EPISODE, args![status, error, id])
            .await?;
        Ok(())
    }

    async fn set_episode_marks(&self, id: EpisodeId, marks: &EpisodeMarks) -> StoreResult<()> {
        let (chapters, soundbites) = rows::marks_columns(marks);
        let args = args![&marks.chapters_url, chapters, soundbites, id];
        self.execute(sql::SET_MARKS, args).await?;
        Ok(())
    }

    async fn episode_marks(&self, id: EpisodeId) -> StoreResult<EpisodeMarks> {
        let row: Option<(Option<String>, String, String)> =
            one(self, sql::EPISODE_MARKS, args![id]).await?;
        let Some((chapters_url, chapters, soundbites)) = row else {
            return Ok(Default::default());
        };
        rows::marks_from_columns(id, chapters_url, &chapters, &soundbites)
    }

    async fn set_episode_subject(&self, id: EpisodeId, subject: &str) -> StoreResult<()> {
        self.execute(sql::SET_SUBJECT, args![subject, id]).await?;
        Ok(())
    }

    async fn episode_subjects(
        &self,
        ids: Option<&[EpisodeId]>,
    ) -> StoreResult<Vec<(EpisodeId, String)>> {
        match ids {
            Some([]) => Ok(Vec::new()),
            Some(ids) => {
                let sql = format!("{} AND id {}", sql::EPISODE_SUBJECTS, D::IN_IDS);
                self.read(&sql, args![ids]).await
            }
            None => self.read(sql::EPISODE_SUBJECTS, &[]).await,
        }
    }

    async fn done_episodes(&self) -> StoreResult<Vec<Episode>> {
        episodes_with_status(self, "done").await
    }

    async fn episode_insights(&self, episode: EpisodeId) -> StoreResult<Vec<StoredInsight>> {
        let rows: Vec<StoredInsightColumns> =
            self.read(sql::EPISODE_INSIGHTS, args![episode]).await?;
        Ok(rows.into_iter().map(StoredInsight::from).collect())
    }

    async fn apply_reextraction(
        &self,
        episode: EpisodeId,
        plan: &Reextraction,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>> {
        let mut tx = self.begin().await?;
        for (id, i) in &plan.update {
            let args = with(insight_args(i), args![*id, episode]);
            tx.execute(sql::UPDATE_INSIGHT, &args).await?;
        }
        for id in &plan.delete {
            tx.execute(sql::DELETE_INSIGHT, args![*id, episode]).await?;
        }
        let ids = insert_insights_in(&mut tx, episode, &plan.insert, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn insert_insights(
        &self,
        episode: EpisodeId,
        insights: &[NewInsight],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>> {
        let mut tx = self.begin().await?;
        let ids = insert_insights_in(&mut tx, episode, insights, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn insights(&self, ids: &[InsightId]) -> StoreResult<Vec<InsightView>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{} WHERE i.id {}", sql::INSIGHT_VIEW, D::IN_IDS);
        let mut found = insight_views(self, &sql, args![ids]).await?;
        found.sort_by_key(|v| ids.iter().position(|id| *id == v.id));
        Ok(found)
    }

    async fn insights_after(&self, after: InsightId, limit: i64) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{} WHERE i.id > $1 ORDER BY i.id LIMIT $2",
            sql::INSIGHT_VIEW
        );
        insight_views(self, &sql, args![after, limit]).await
    }

    async fn latest_insight_id(&self) -> StoreResult<InsightId> {
        Ok(scalar(self, sql::LATEST_INSIGHT_ID, &[])
            .await?
            .unwrap_or(0))
    }

    async fn delivered_among(
        &self,
        subs: &[SubscriptionId],
        from_id: InsightId,
    ) -> StoreResult<Vec<(SubscriptionId, InsightId)>> {
        let sql = format!(
            "SELECT subscription_id, insight_id FROM delivered_insights \
             WHERE subscription_id {} AND insight_id >= $2",
            D::IN_IDS
        );
        self.read(&sql, args![subs, from_id]).await
    }

    async fn brief_candidates(
        &self,
        since: DateTime<Utc>,
        subscription: Option<SubscriptionId>,
    ) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{} WHERE COALESCE(e.published_at, e.created_at) >= $1 AND NOT EXISTS \
             (SELECT 1 FROM delivered_insights d WHERE d.subscription_id = $2 \
             AND d.insight_id = i.id) ORDER BY i.id",
            sql::INSIGHT_VIEW
        );
        insight_views(self, &sql, args![since, subscription.unwrap_or(-1)]).await
    }

    async fn insights_on_topic(
        &self,
        topic: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{} WHERE {} ORDER BY COALESCE(e.published_at, e.created_at) DESC, i.id DESC \
             LIMIT $2 OFFSET $3",
            sql::INSIGHT_VIEW,
            D::HAS_TOPIC
        );
        insight_views(self, &sql, args![topic, limit, offset]).await
    }
}

#[async_trait]
impl<D: Dialect> SubscriptionStore for D {
    async fn upsert_subscription(&self, s: &NewSubscription) -> StoreResult<Subscription> {
        let more = args![
            &s.schedule,
            &s.timezone,
            i64::from(s.size),
            rows::list(&s.topics),
            s.next_run_at,
            &s.created_by,
            Utc::now(),
            &s.scope_id,
        ];
        let args = with(chat_args(&s.chat), more);
        self.execute(sql::UPSERT_SUBSCRIPTION, &args).await?;
        self.subscription(&s.chat)
            .await?
            .ok_or_else(|| StoreError::Corrupt("subscription vanished after insert".into()))
    }

    async fn subscription(&self, chat: &ChatRef) -> StoreResult<Option<Subscription>> {
        let sql = format!("{} WHERE {}", sql::SUBSCRIPTION, sql::BY_CHAT);
        let found = subscriptions(self, &sql, &chat_args(chat)).await?;
        Ok(found.into_iter().next())
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let args = args![
            s.schedule.as_str(),
            s.timezone.as_str(),
            i64::from(s.size),
            rows::list(&s.topics),
            s.next_run_at,
            s.id,
        ];
        self.execute(sql::UPDATE_SUBSCRIPTION, args).await?;
        Ok(())
    }

    async fn delete_subscription(&self, chat: &ChatRef) -> StoreResult<bool> {
        let sql = format!("DELETE FROM subscriptions WHERE {}", sql::BY_CHAT);
        Ok(self.execute(&sql, &chat_args(chat)).await? > 0)
    }

    async fn pause_subscription(&self, id: SubscriptionId, reason: &str) -> StoreResult<()> {
        self.execute(sql::PAUSE_SUBSCRIPTION, args![reason, id])
            .await?;
        Ok(())
    }

    async fn pause_chat(&self, chat: &ChatRef, reason: &str) -> StoreResult<bool> {
        // Without a thread, every thread of the chat is paused (the bot left the whole chat).
        let thread = chat.thread_id.as_deref();
        let args = args![reason, chat.platform.as_str(), &chat.chat_id, thread];
        Ok(self.execute(sql::PAUSE_CHAT, args).await? > 0)
    }

    async fn pause_scope(
        &self,
        platform: Platform,
        scope_id: &str,
        reason: &str,
    ) -> StoreResult<u64> {
        let args = args![reason, platform.as_str(), scope_id];
        self.execute(sql::PAUSE_SCOPE, args).await
    }

    async fn move_chat(&self, from: &ChatRef, to_chat_id: &str) -> StoreResult<bool> {
        let args = args![to_chat_id, from.platform.as_str(), &from.chat_id];
        unless_taken(self.execute(sql::MOVE_CHAT, args).await)
    }

    async fn due_subscriptions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "{} WHERE paused_reason IS NULL AND next_run_at <= $1 ORDER BY next_run_at, id \
             LIMIT $2",
            sql::SUBSCRIPTION
        );
        subscriptions(self, &sql, args![now, limit]).await
    }

    async fn next_run_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<Stamp> = scalar(self, sql::NEXT_RUN_AT, &[]).await?;
        Ok(t.map(|t| t.0))
    }

    async fn subscriptions_overview(
        &self,
    ) -> StoreResult<Vec<(Subscription, Option<DeliveryRow>)>> {
        let sql = format!("{} ORDER BY next_run_at, id", sql::SUBSCRIPTION);
        let subs = subscriptions(self, &sql, &[]).await?;
        let last: Vec<DeliveryColumns> = self.read(&sql::last_deliveries(), &[]).await?;
        let mut last: std::collections::HashMap<SubscriptionId, DeliveryRow> = last
            .into_iter()
            .map(|d| {
                let d = DeliveryRow::from(d);
                (d.subscription_id, d)
            })
            .collect();
        Ok(subs
            .into_iter()
            .map(|s| {
                let d = last.remove(&s.id);
                (s, d)
            })
            .collect())
    }
}

#[async_trait]
impl<D: Dialect> DeliveryStore for D {
    async fn plan_deliveries(
        &self,
        plans: &[Plan],
        now: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Option<i64>>> {
        Dialect::plan_deliveries(self, plans, now, lease_until).await
    }

    async fn watch_plans(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        Dialect::watch_plans(self, wake).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        Dialect::claim_deliveries(self, now, lease_until, limit).await
    }

    async fn record_deliveries(&self, done: &[DeliveryDone]) -> StoreResult<()> {
        Dialect::record_deliveries(self, done).await
    }

    async fn retry_delivery(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let args = args![next_attempt_at, error, id];
        self.execute(sql::RETRY_DELIVERY, args).await?;
        Ok(())
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<Stamp> = scalar(self, D::NEXT_DELIVERY_AT, &[]).await?;
        Ok(t.map(|t| t.0))
    }

    async fn deliveries(&self, failed_only: bool, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
        let filter = if failed_only {
            "WHERE d.status = 'failed'"
        } else {
            ""
        };
        let rows: Vec<DeliveryColumns> = self.read(&sql::deliveries(filter), args![limit]).await?;
        Ok(rows.into_iter().map(DeliveryRow::from).collect())
    }

    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<Stamp> = scalar(self, sql::OLDEST_PENDING, &[]).await?;
        Ok(t.map(|t| t.0))
    }
}

#[async_trait]
impl<D: Dialect> Store for D {
    async fn migrate(&self) -> StoreResult<()> {
        Dialect::migrate(self).await
    }

    async fn stats(&self) -> StoreResult<Stats> {
        let stats: Option<Stats> = one(self, sql::STATS, &[]).await?;
        Ok(stats.unwrap_or_default())
    }

    async fn check_writable(&self) -> StoreResult<()> {
        Dialect::check_writable(self).await
    }

    async fn close(&self) {
        Dialect::close(self).await
    }

    async fn try_lock(&self, name: &str) -> StoreResult<Option<InstanceLock>> {
        Dialect::try_lock(self, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: SubscriptionId) -> Subscription {
        Subscription {
            id,
            chat: ChatRef {
                platform: Platform::Telegram,
                chat_id: id.to_string(),
                thread_id: None,
            },
            schedule: crate::core::schedule::Schedule::daily(8, 0),
            timezone: crate::core::schedule::Zone::UTC,
            size: 3,
            topics: vec![],
            next_run_at: DateTime::UNIX_EPOCH,
            paused_reason: None,
        }
    }

    #[test]
    fn claimed_rows_join_their_subscriptions_in_due_order() {
        let t = |h: i64| Stamp(DateTime::UNIX_EPOCH + chrono::Duration::hours(h));
        // Subscription 7 has two deliveries (a retry and a new occurrence); 9 was deleted.
        let rows = vec![
            (30, 7, t(2), 1),
            (10, 5, t(1), 1),
            (20, 7, t(1), 3),
            (40, 9, t(1), 1),
        ];
        let joined = join_claimed(rows, vec![sub(7), sub(5)]);
        let got: Vec<(i64, SubscriptionId, i64)> = joined
            .iter()
            .map(|d| (d.id, d.subscription.id, d.attempts))
            .collect();
        assert_eq!(got, vec![(10, 5, 1), (20, 7, 3), (30, 7, 1)]);
        assert_eq!(joined[1].subscription, joined[2].subscription);
        assert_eq!(joined[0].subscription.chat.chat_id, "5");
    }
}
