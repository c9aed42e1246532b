//! The in-process brief timer: wakes at the earliest `next_run_at`, writes one delivery row per
//! (subscription, occurrence), sends the brief and advances the schedule.
//!
//! An occurrence missed by more than `catch_up` (the bot was down) is recorded as missed, not
//! sent. Each delivery is closed in one transaction with the insights it delivered, so an insight
//! is never sent twice to one subscription.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{SendError, Sender};
use crate::core::Core;
use crate::core::model::{Platform, Subscription};
use crate::core::schedule::{Schedule, parse_timezone};
use crate::store::{DeliveryOutcome, StoreError};

/// Delivers briefs when they are due.
pub struct Scheduler {
    core: Arc<Core>,
    senders: HashMap<Platform, Arc<dyn Sender>>,
    catch_up: chrono::Duration,
}

impl Scheduler {
    /// A scheduler sending through `senders`.
    pub fn new(
        core: Arc<Core>,
        senders: HashMap<Platform, Arc<dyn Sender>>,
        catch_up: std::time::Duration,
    ) -> Scheduler {
        Scheduler {
            core,
            senders,
            catch_up: chrono::Duration::from_std(catch_up).unwrap_or(chrono::Duration::hours(6)),
        }
    }

    /// Runs until the task is dropped or aborted.
    pub async fn run(self) {
        let changed = self.core.schedule_changed();
        loop {
            let now = self.core.clock().now();
            if let Err(e) = self.tick(now).await {
                warn!(error = %e, "scheduler tick failed");
            }
            let next = match self.core.store().next_run_at().await {
                Ok(n) => n,
                Err(e) => {
                    warn!(error = %e, "cannot read next run");
                    None
                }
            };
            // Re-plan at least hourly; wake early when a subscription changes.
            let wake = next
                .unwrap_or(now + chrono::Duration::hours(1))
                .min(now + chrono::Duration::hours(1))
                .max(now);
            let clock = self.core.clock().clone();
            tokio::select! {
                _ = clock.sleep_until(wake) => {}
                _ = changed.notified() => {}
            }
        }
    }

    /// Delivers everything due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        for sub in self.core.store().due_subscriptions(now).await? {
            self.deliver(&sub, now).await?;
        }
        Ok(())
    }

    async fn deliver(&self, sub: &Subscription, now: DateTime<Utc>) -> Result<(), StoreError> {
        let store = self.core.store();
        let occurrence = sub.next_run_at;
        let next = match (
            Schedule::parse(&sub.schedule),
            parse_timezone(&sub.timezone),
        ) {
            (Ok(s), Ok(tz)) => s.next_after(now.max(occurrence), tz),
            _ => None,
        }
        .unwrap_or(now + chrono::Duration::days(1));
        let (delivery, finished) = store.open_delivery(sub.id, occurrence, now).await?;
        let close = |outcome, ids: &[String], insights: &[i64], error: Option<String>| {
            let error = error.clone();
            let ids = ids.to_vec();
            let insights = insights.to_vec();
            async move {
                store
                    .close_delivery(
                        delivery,
                        sub.id,
                        outcome,
                        &ids,
                        &insights,
                        error.as_deref(),
                        next,
                        now,
                    )
                    .await
            }
        };
        if finished {
            let mut s = sub.clone();
            s.next_run_at = next;
            return store.update_subscription(&s).await;
        }
        if now - occurrence > self.catch_up {
            info!(subscription = sub.id, %occurrence, "brief missed while down; not sent");
            return close(DeliveryOutcome::Missed, &[], &[], None).await;
        }
        let Some((reply, insights)) = self.core.brief(sub).await? else {
            return close(DeliveryOutcome::Empty, &[], &[], None).await;
        };
        let Some(sender) = self.senders.get(&sub.chat.platform) else {
            let e = format!(
                "no {} connection in this process",
                sub.chat.platform.as_str()
            );
            return close(DeliveryOutcome::Failed, &[], &[], Some(e)).await;
        };
        let mut attempt = 0u32;
        loop {
            match sender.send(&sub.chat, &reply).await {
                Ok(message_ids) => {
                    info!(
                        subscription = sub.id,
                        insights = insights.len(),
                        "brief sent"
                    );
                    return close(DeliveryOutcome::Sent, &message_ids, &insights, None).await;
                }
                Err(SendError::Gone(reason)) => {
                    warn!(subscription = sub.id, %reason, "chat unavailable; subscription paused");
                    store.pause_subscription(sub.id, &reason).await?;
                    return close(DeliveryOutcome::Failed, &[], &[], Some(reason)).await;
                }
                Err(e) if attempt + 1 < MAX_ATTEMPTS => {
                    let wait = match &e {
                        SendError::RetryAfter(d) => *d,
                        _ => backoff(attempt),
                    };
                    warn!(subscription = sub.id, error = %e, ?wait, "brief not sent yet; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    warn!(subscription = sub.id, error = %e, "brief not sent");
                    return close(DeliveryOutcome::Failed, &[], &[], Some(e.to_string())).await;
                }
            }
        }
    }
}

/// Attempts per brief before it is recorded as failed.
const MAX_ATTEMPTS: u32 = 5;

/// Exponential backoff with jitter: about 0.5 s, 1 s, 2 s, 4 s.
fn backoff(attempt: u32) -> std::time::Duration {
    let base = 500u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = u64::from(nanos) % (base / 2 + 1);
    std::time::Duration::from_millis(base + jitter)
}
