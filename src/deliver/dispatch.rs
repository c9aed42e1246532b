//! Dispatching: the [`Outbox`] starts a send for each queued delivery as soon as a sending slot
//! is free, and each send ends in one of these:
//!
//! * Sent: handed to the recorder with its message ids and delivered insights.
//! * Retry after N (rate limited): waited out in place when short, else the row is put back due
//!   in N.
//! * Transient: exponential backoff with jitter, at most `max_attempts` attempts, then `failed`
//!   with the error kept.
//! * Gone: the subscription is paused with the reason.
//!
//! A process that dies mid-send leaves its leases to expire; those rows are then claimed again
//! (at-least-once; Discord drops the duplicate by nonce). On shutdown the outbox stops claiming,
//! puts back what is queued, and lets in-flight sends finish for a bounded time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::{Instrument, info, info_span, warn};

use super::claim::{CLAIM_BATCH, Claimer, Handoff, put_back};
use super::compose::{Brief, Composer, Ready, Senders};
use super::record::{Finished, backoff, record};
use super::{SendError, Sender};
use crate::core::Core;
use crate::core::model::Platform;
use crate::metrics::DeliveryEvent;
use crate::store::{Delivery, DeliveryDone, DeliveryOutcome, DeliveryResult, StoreError};

/// Retry-afters up to this long are waited out by the sending task itself.
const WAIT_IN_PLACE: Duration = Duration::from_secs(60);

/// Settings of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts.
    pub lease: Duration,
    /// Attempts before a delivery fails.
    pub max_attempts: u32,
}

impl OutboxSettings {
    /// Places in the queue of composed briefs: eight times the sends in flight, at most four
    /// claims (1,024), so the slots do not wait while a page is planned and composed.
    pub fn queue_room(&self) -> usize {
        (8 * self.concurrency).clamp(1, 4 * CLAIM_BATCH)
    }

    /// Whether a queued brief's lease can run out before its send: the queue takes
    /// `queue_room / per_second` seconds to drain at a platform's rate, and a lease that ends
    /// sooner lets another claim send the same brief again.
    pub fn lease_outlasts_queue(&self, per_second: u32) -> bool {
        let drain = self.queue_room() as f64 / f64::from(per_second.max(1));
        self.lease.as_secs_f64() >= drain
    }
}

/// The outbox: claims (through its [`Handoff`] and the store), composes, sends and records.
pub struct Outbox {
    core: Arc<Core>,
    senders: Arc<Senders>,
    settings: OutboxSettings,
    handoff: Handoff,
    claimer: Mutex<Option<Claimer>>,
}

impl Outbox {
    /// An outbox sending through `senders`, woken by `planned` when deliveries were planned
    /// without a lease (by another instance).
    pub fn new(
        core: Arc<Core>,
        senders: HashMap<Platform, Arc<dyn Sender>>,
        settings: OutboxSettings,
        planned: Arc<Notify>,
    ) -> Outbox {
        let (handoff, handed) = Handoff::new(settings.queue_room(), settings.lease);
        let claimer = Claimer {
            core: core.clone(),
            handoff: handoff.clone(),
            handed,
            planned,
        };
        Outbox {
            core,
            senders: Arc::new(senders),
            settings,
            handoff,
            claimer: Mutex::new(Some(claimer)),
        }
    }

    /// The scheduler's way in: see [`Handoff`].
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Claims and sends until `stop` turns true; then waits up to `grace` for in-flight sends.
    ///
    /// The claiming stage queues composed briefs ahead (at most `queue_room` deliveries), and
    /// this loop starts a send for each as soon as a slot is free.
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let claimer = self
            .claimer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let me = Arc::new(self);
        let concurrency = me.settings.concurrency.max(1);
        // `sending` bounds the sends in flight; `unrecorded` the deliveries sent (or being sent)
        // whose outcome is not recorded yet, so a crash doubles at most that many briefs while
        // sends go on during a group commit. Queued deliveries hold neither.
        let sending = Arc::new(Semaphore::new(concurrency));
        let unrecorded = Arc::new(Semaphore::new(2 * concurrency));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record(me.core.clone(), done_rx));
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let composer = Arc::new(Composer {
            core: me.core.clone(),
            senders: me.senders.clone(),
        });
        let claiming = claimer.map(|c| tokio::spawn(c.run(composer, ready_tx, stop.clone())));
        // Outside tokio's cooperative budget: with hundreds of send tasks runnable, a
        // budget-exhausted dispatcher would wait for the worker's next park while slots stand
        // free. It still yields whenever the queue is empty or every slot is taken.
        tokio::task::unconstrained(async {
            while !*stop.borrow() {
                let ready = tokio::select! {
                    r = ready_rx.recv() => r,
                    _ = stop.changed() => None,
                };
                let Some(ready) = ready else { break };
                let slot = tokio::select! {
                    s = Slot::acquire(&sending, &unrecorded) => s,
                    _ = stop.changed() => {
                        put_back(&me.core, ready.delivery.id).await;
                        break;
                    }
                };
                me.start(ready, slot, &done_tx);
            }
        })
        .await;
        // Shutdown: what was queued but not started is put back due at once; in-flight sends get
        // `grace` to finish and be recorded; anything unfinished keeps its lease.
        if let Some(claiming) = claiming {
            let _ = claiming.await;
        }
        while let Some(ready) = ready_rx.recv().await {
            put_back(&me.core, ready.delivery.id).await;
        }
        // Unrecorded slots come back once their delivery is recorded: all back, all recorded.
        drop(done_tx);
        let all = unrecorded.acquire_many(2 * concurrency as u32);
        if tokio::time::timeout(grace, all).await.is_err() {
            warn!(
                "shutdown: some briefs were still being sent; they will be resent after their lease"
            );
        } else {
            let _ = recorder.await;
        }
    }

    /// Starts the send of one queued delivery in a task of its own, holding `slot`.
    fn start(self: &Arc<Self>, ready: Ready, slot: Slot, done: &mpsc::UnboundedSender<Finished>) {
        let Ready {
            delivery,
            brief,
            place,
        } = ready;
        // It leaves the queue: its place is free for the next claim.
        drop(place);
        let (outbox, done) = (self.clone(), done.clone());
        tokio::spawn(async move {
            let id = delivery.id;
            let result = outbox.deliver(delivery, brief).await;
            drop(slot.sending);
            match result {
                // The unrecorded slot stays taken until the outcome is recorded.
                Ok(Some(result)) => {
                    let _ = done.send((result, slot.unrecorded));
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(delivery = id, error = %e, "delivery bookkeeping failed; the lease will expire and it is retried");
                }
            }
        });
    }

    /// Sends one delivery's brief, retrying in place where the error allows; returns how it
    /// ended, to be recorded in a batch (`None` when it was put back for later). Its logs are in
    /// a `delivery` span (delivery id, chat), each attempt's in a `send` span within it, so one
    /// brief's retries read together.
    #[tracing::instrument(name = "delivery", skip_all, fields(delivery = d.id, chat = %d.subscription.chat.chat_id))]
    async fn deliver(
        &self,
        d: Delivery,
        brief: Option<Brief>,
    ) -> Result<Option<DeliveryDone>, StoreError> {
        let sub = &d.subscription;
        if sub.paused_reason.is_some() {
            return Ok(Some(ended(
                &d,
                DeliveryOutcome::Failed,
                sub.paused_reason.clone(),
            )));
        }
        let Some(sender) = self.senders.get(&sub.chat.platform).cloned() else {
            // Another instance (or a later start) with that platform connected will send it.
            let later = self.core.clock().now() + chrono::Duration::minutes(1);
            let e = format!(
                "no {} connection in this process",
                sub.chat.platform.as_str()
            );
            self.core
                .store()
                .retry_delivery(d.id, later, Some(&e))
                .await?;
            return Ok(None);
        };
        let Some(brief) = brief else {
            return Ok(Some(ended(&d, DeliveryOutcome::Empty, None)));
        };
        let mut attempt = d.attempts.max(1) as u32;
        loop {
            let next = self
                .attempt(&d, &brief, sender.as_ref(), attempt)
                .instrument(info_span!("send", attempt))
                .await?;
            match next {
                Next::Done(done) => return Ok(done),
                Next::Retry(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Attempt `attempt` at sending delivery `d`, and what follows it.
    async fn attempt(
        &self,
        d: &Delivery,
        brief: &Brief,
        sender: &dyn Sender,
        attempt: u32,
    ) -> Result<Next, StoreError> {
        let platform = d.subscription.chat.platform;
        let started = std::time::Instant::now();
        let result = sender
            .send_prepared(&d.subscription.chat, &brief.prepared, d.id)
            .await;
        let limited = matches!(result, Err(SendError::RetryAfter(_)));
        self.core
            .metrics()
            .send_attempt(platform, started.elapsed(), limited);
        self.judge(d, brief, result, attempt).await
    }

    /// What follows attempt `attempt` at sending delivery `d`, which ended in `result`.
    async fn judge(
        &self,
        d: &Delivery,
        brief: &Brief,
        result: Result<Vec<String>, SendError>,
        attempt: u32,
    ) -> Result<Next, StoreError> {
        let (sub, store) = (&d.subscription, self.core.store());
        let count = |event| self.core.metrics().delivery(sub.chat.platform, event);
        let now = self.core.clock().now();
        Ok(match result {
            Ok(message_ids) => {
                count(DeliveryEvent::Sent);
                info!(
                    subscription = sub.id,
                    delivery = d.id,
                    insights = brief.insights.len(),
                    "brief sent"
                );
                let at = now;
                let insights = brief.insights.clone();
                Next::Done(Some(done(
                    d,
                    DeliveryResult::Sent {
                        message_ids,
                        insights,
                        at,
                    },
                )))
            }
            Err(SendError::Gone(reason)) => {
                count(DeliveryEvent::Failed);
                warn!(subscription = sub.id, %reason, "chat unavailable; subscription paused");
                store.pause_subscription(sub.id, &reason).await?;
                Next::Done(Some(ended(d, DeliveryOutcome::Failed, Some(reason))))
            }
            Err(e) if attempt >= self.settings.max_attempts => {
                count(DeliveryEvent::Failed);
                warn!(subscription = sub.id, error = %e, attempts = attempt, "brief failed");
                Next::Done(Some(ended(d, DeliveryOutcome::Failed, Some(e.to_string()))))
            }
            Err(SendError::RetryAfter(wait)) if wait > WAIT_IN_PLACE => {
                count(DeliveryEvent::Retried);
                let at =
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                let why = format!("rate limited; retry after {wait:?}");
                store.retry_delivery(d.id, at, Some(&why)).await?;
                Next::Done(None)
            }
            Err(e) => {
                count(DeliveryEvent::Retried);
                let wait = match &e {
                    SendError::RetryAfter(w) => *w,
                    _ => backoff(attempt),
                };
                warn!(subscription = sub.id, error = %e, ?wait, "brief not sent yet; retrying");
                Next::Retry(wait)
            }
        })
    }
}

/// What follows one attempt at a send.
enum Next {
    /// The delivery is over: its outcome to record (`None`: put back for later).
    Done(Option<DeliveryDone>),
    /// Try again after this long.
    Retry(Duration),
}

/// The outcome of delivery `d`.
fn done(d: &Delivery, result: DeliveryResult) -> DeliveryDone {
    DeliveryDone {
        id: d.id,
        subscription: d.subscription.id,
        result,
    }
}

/// Delivery `d` ended without a send, as `outcome`.
fn ended(d: &Delivery, outcome: DeliveryOutcome, error: Option<String>) -> DeliveryDone {
    done(d, DeliveryResult::Ended { outcome, error })
}

/// The slots of one send: one sending, one unrecorded.
struct Slot {
    sending: OwnedSemaphorePermit,
    unrecorded: OwnedSemaphorePermit,
}

impl Slot {
    /// Waits for one slot of each kind.
    async fn acquire(sending: &Arc<Semaphore>, unrecorded: &Arc<Semaphore>) -> Slot {
        let sending = sending.clone().acquire_owned().await;
        let unrecorded = unrecorded.clone().acquire_owned().await;
        Slot {
            sending: sending.expect("the semaphore is never closed"),
            unrecorded: unrecorded.expect("the semaphore is never closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OutboxSettings;
    use std::time::Duration;

    fn settings(concurrency: usize, lease_secs: u64) -> OutboxSettings {
        OutboxSettings {
            concurrency,
            lease: Duration::from_secs(lease_secs),
            max_attempts: 5,
        }
    }

    #[test]
    fn a_lease_must_outlast_the_queue_at_the_platform_rate() {
        // 64 in flight: 512 queued, 17 s at Telegram's 30/s.
        assert_eq!(settings(64, 600).queue_room(), 512);
        assert!(settings(64, 600).lease_outlasts_queue(30));
        assert!(!settings(64, 10).lease_outlasts_queue(30));
        assert!(settings(64, 18).lease_outlasts_queue(30));
        // The queue stops at 1,024 however many are in flight: 34 s at 30/s.
        assert_eq!(settings(1000, 60).queue_room(), 1024);
        assert!(!settings(1000, 30).lease_outlasts_queue(30));
        assert!(settings(1000, 30).lease_outlasts_queue(1000));
    }
}
