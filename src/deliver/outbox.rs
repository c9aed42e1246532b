//! The outbox worker: claims due deliveries with a lease, composes each subscription's brief,
//! sends it through the platform's [`Sender`] and records the outcome.
//!
//! * Sent: the message ids and the delivered insights are recorded in one transaction.
//! * Retry after N (rate limited): waited out in place when short, else the row is put back due
//!   in N.
//! * Transient: exponential backoff with jitter, at most `max_attempts` attempts, then `failed`
//!   with the error kept.
//! * Gone: the subscription is paused with the reason.
//!
//! A worker that dies mid-send leaves its lease to expire; the row is then claimed again
//! (at-least-once; Discord drops the duplicate by nonce). On shutdown the worker stops claiming
//! and lets in-flight sends finish for a bounded time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tracing::{info, warn};

use super::{SendError, Sender};
use crate::core::Core;
use crate::core::model::Platform;
use crate::metrics::DeliveryEvent;
use crate::store::{Delivery, DeliveryOutcome, StoreError};

/// Retry-afters up to this long are waited out by the sending task itself.
const WAIT_IN_PLACE: Duration = Duration::from_secs(60);

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts.
    pub lease: Duration,
    /// Attempts before a delivery fails.
    pub max_attempts: u32,
}

/// The outbox worker.
pub struct Outbox {
    core: Arc<Core>,
    senders: HashMap<Platform, Arc<dyn Sender>>,
    settings: OutboxSettings,
    planned: Arc<Notify>,
}

impl Outbox {
    /// A worker sending through `senders`, woken by `planned` when new deliveries exist.
    pub fn new(
        core: Arc<Core>,
        senders: HashMap<Platform, Arc<dyn Sender>>,
        settings: OutboxSettings,
        planned: Arc<Notify>,
    ) -> Outbox {
        Outbox {
            core,
            senders,
            settings,
            planned,
        }
    }

    /// Claims and sends until `stop` turns true; then waits up to `grace` for in-flight sends.
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let me = Arc::new(self);
        let slots = Arc::new(Semaphore::new(me.settings.concurrency.max(1)));
        loop {
            if *stop.borrow() {
                break;
            }
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                let now = me.core.clock().now();
                let lease_until = now
                    + chrono::Duration::from_std(me.settings.lease)
                        .unwrap_or(chrono::Duration::minutes(10));
                me.core
                    .store()
                    .claim_deliveries(now, lease_until, free as i64)
                    .await
                    .unwrap_or_else(|e| {
                        warn!(error = %e, "cannot claim deliveries");
                        Vec::new()
                    })
            };
            let got = claimed.len();
            for d in claimed {
                let permit = slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let worker = me.clone();
                tokio::spawn(async move {
                    let id = d.id;
                    if let Err(e) = worker.deliver(d).await {
                        warn!(delivery = id, error = %e, "delivery bookkeeping failed; the lease will expire and it is retried");
                    }
                    drop(permit);
                });
            }
            if got > 0 {
                continue;
            }
            // Nothing claimable: sleep until the next delivery is due, new ones are planned, a
            // send finishes (freeing a slot), or shutdown.
            let now = me.core.clock().now();
            let next = me.core.store().next_delivery_at().await.ok().flatten();
            let horizon = now + chrono::Duration::minutes(5);
            let wake = next
                .unwrap_or(horizon)
                .clamp(now + chrono::Duration::milliseconds(1), horizon);
            let clock = me.core.clock().clone();
            tokio::select! {
                _ = clock.sleep_until(wake) => {}
                _ = me.planned.notified() => {}
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(if free == 0 { 20 } else { 60_000 })) => {}
            }
        }
        // Graceful shutdown: no new claims; give in-flight sends `grace` to finish. Anything
        // still unfinished keeps its lease and is claimed again after it expires.
        let all = me.settings.concurrency.max(1) as u32;
        if tokio::time::timeout(grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            warn!(
                "shutdown: some briefs were still being sent; they will be resent after their lease"
            );
        }
    }

    async fn deliver(&self, d: Delivery) -> Result<(), StoreError> {
        let store = self.core.store();
        let sub = &d.subscription;
        if sub.paused_reason.is_some() {
            return store
                .finish_delivery(d.id, DeliveryOutcome::Failed, sub.paused_reason.as_deref())
                .await;
        }
        let Some(sender) = self.senders.get(&sub.chat.platform).cloned() else {
            // Another instance (or a later start) with that platform connected will send it.
            let later = self.core.clock().now() + chrono::Duration::minutes(1);
            let e = format!(
                "no {} connection in this process",
                sub.chat.platform.as_str()
            );
            return store.retry_delivery(d.id, later, Some(&e)).await;
        };
        let Some((reply, insights)) = self.core.brief(sub).await? else {
            return store
                .finish_delivery(d.id, DeliveryOutcome::Empty, None)
                .await;
        };
        let mut attempt = d.attempts.max(1) as u32;
        loop {
            let started = std::time::Instant::now();
            let result = sender.send_delivery(&sub.chat, &reply, d.id).await;
            let metrics = self.core.metrics();
            metrics.send_attempt(
                sub.chat.platform,
                started.elapsed(),
                matches!(result, Err(SendError::RetryAfter(_))),
            );
            let now = self.core.clock().now();
            match result {
                Ok(message_ids) => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Sent);
                    info!(
                        subscription = sub.id,
                        delivery = d.id,
                        insights = insights.len(),
                        "brief sent"
                    );
                    return store
                        .complete_delivery(d.id, sub.id, &message_ids, &insights, now)
                        .await;
                }
                Err(SendError::Gone(reason)) => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Failed);
                    warn!(subscription = sub.id, %reason, "chat unavailable; subscription paused");
                    store.pause_subscription(sub.id, &reason).await?;
                    return store
                        .finish_delivery(d.id, DeliveryOutcome::Failed, Some(&reason))
                        .await;
                }
                Err(e) if attempt >= self.settings.max_attempts => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Failed);
                    warn!(subscription = sub.id, error = %e, attempts = attempt, "brief failed");
                    return store
                        .finish_delivery(d.id, DeliveryOutcome::Failed, Some(&e.to_string()))
                        .await;
                }
                Err(SendError::RetryAfter(wait)) if wait > WAIT_IN_PLACE => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Retried);
                    let at = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    return store
                        .retry_delivery(
                            d.id,
                            at,
                            Some(&format!("rate limited; retry after {wait:?}")),
                        )
                        .await;
                }
                Err(e) => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Retried);
                    let wait = match &e {
                        SendError::RetryAfter(w) => *w,
                        _ => backoff(attempt),
                    };
                    warn!(subscription = sub.id, error = %e, ?wait, "brief not sent yet; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// Exponential backoff with jitter: about 0.5 s, 1 s, 2 s, 4 s… (at most about a minute).
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64 << attempt.saturating_sub(1).min(7);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = u64::from(nanos) % (base / 2 + 1);
    Duration::from_millis(base + jitter)
}
