//! The outbox worker: takes the deliveries the scheduler hands off (planned already leased, see
//! [`Handoff`]) and claims due ones with a lease, composes each subscription's brief, sends it
//! through the platform's [`Sender`] and records the outcome.
//!
//! * Sent: the message ids and the delivered insights are recorded in one transaction (with the
//!   other deliveries that finished meanwhile: a fan-out commits in batches).
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

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::{info, warn};

use super::{Prepared, SendError, Sender};
use crate::core::Core;
use crate::core::model::{InsightId, Platform, Reply, Subscription};
use crate::metrics::DeliveryEvent;
use crate::store::{Delivery, DeliveryDone, DeliveryOutcome, DeliveryResult, StoreError};

/// Most deliveries claimed at once.
const CLAIM_BATCH: usize = 256;

/// Most deliveries recorded in one transaction.
const RECORD_BATCH: usize = 512;

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
    /// Holds the queue's room, shared by claims and hand-offs.
    handoff: Handoff,
    handed: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Handed>>>,
}

/// The scheduler's way into this process's outbox: deliveries it plans already leased, so they
/// are sent without being claimed (no second write, no second read of their subscriptions).
/// Planning takes places in the outbox's queue first, so a fan-out is planned as fast as it is
/// sent, and a lease starts when its brief is about to be sent.
#[derive(Clone)]
pub struct Handoff {
    /// Places in the queue of composed briefs waiting for a sending slot, taken by claims and by
    /// hand-offs alike.
    room: Arc<Semaphore>,
    /// The fewest places a page waits for (a quarter of the room, as a claim does), so a fan-out
    /// is planned in pages, not a transaction per freed place.
    page: usize,
    lease: Duration,
    tx: mpsc::UnboundedSender<Handed>,
}

/// Deliveries handed to the outbox with their places in its queue.
struct Handed {
    deliveries: Vec<Delivery>,
    places: OwnedSemaphorePermit,
}

/// Places in the outbox's queue, taken by [`Handoff::room`].
pub struct Room(OwnedSemaphorePermit);

impl Room {
    /// How many deliveries fit.
    pub fn len(&self) -> usize {
        self.0.num_permits()
    }

    /// Whether none fit (never, for a room handed out).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Handoff {
    /// Waits for places for a page of deliveries in the outbox's queue (a quarter of its room,
    /// or `max` if fewer) and takes what else is free, up to `max`; `None` once the outbox has
    /// stopped.
    pub async fn room(&self, max: usize) -> Option<Room> {
        let least = self.page.min(max).max(1);
        let mut places = self
            .room
            .clone()
            .acquire_many_owned(least as u32)
            .await
            .ok()?;
        let more = self.room.available_permits().min(max.saturating_sub(least)) as u32;
        if let Ok(more) = self.room.clone().try_acquire_many_owned(more) {
            places.merge(more);
        }
        Some(Room(places))
    }

    /// Whether the outbox has stopped taking deliveries.
    pub fn is_closed(&self) -> bool {
        self.room.is_closed()
    }

    /// When the lease of a delivery planned at `now` ends.
    pub fn lease_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        lease_end(now, self.lease)
    }

    /// Hands planned, leased deliveries to the outbox (at most as many as `room` holds; places
    /// left over are given back). Returns them if the outbox has stopped.
    pub fn hand(&self, deliveries: Vec<Delivery>, room: Room) -> Result<(), Vec<Delivery>> {
        let mut places = room.0;
        if deliveries.is_empty() {
            return Ok(());
        }
        if let Some(used) = places.split(deliveries.len()) {
            places = used;
        }
        self.tx
            .send(Handed { deliveries, places })
            .map_err(|e| e.0.deliveries)
    }
}

impl Outbox {
    /// A worker sending through `senders`, woken by `planned` when new deliveries exist.
    pub fn new(
        core: Arc<Core>,
        senders: HashMap<Platform, Arc<dyn Sender>>,
        settings: OutboxSettings,
        planned: Arc<Notify>,
    ) -> Outbox {
        let (tx, rx) = mpsc::unbounded_channel();
        let handoff = Handoff {
            room: Arc::new(Semaphore::new(settings.queue_room())),
            page: (settings.queue_room() / 4).max(1),
            lease: settings.lease,
            tx,
        };
        Outbox {
            core,
            senders,
            settings,
            planned,
            handoff,
            handed: std::sync::Mutex::new(Some(rx)),
        }
    }

    /// The scheduler's way in: see [`Handoff`].
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Claims and sends until `stop` turns true; then waits up to `grace` for in-flight sends.
    ///
    /// Two stages: a claiming task claims batches and composes their briefs ahead into a queue
    /// (at most `8 × concurrency` deliveries, and 1,024, wait there), and this loop starts a send
    /// for each queued delivery as soon as a slot is free, so sends never wait for a claim or a
    /// composition.
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let me = Arc::new(self);
        let concurrency = me.settings.concurrency.max(1);
        // Two kinds of slot: `sending` bounds the sends in flight; `unrecorded` bounds the
        // deliveries sent (or being sent) whose outcome is not recorded yet, so a crash can double
        // at most that many briefs, while sends go on during a group commit. Queued deliveries
        // hold neither: a crash before their send only leaves their leases to expire.
        let sending = Arc::new(Semaphore::new(concurrency));
        let unrecorded = Arc::new(Semaphore::new(2 * concurrency));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record(me.core.clone(), done_rx));
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let claimer = tokio::spawn(me.clone().claim_ahead(ready_tx, stop.clone()));
        // Dispatching is outside tokio's cooperative budget: with hundreds of send tasks runnable,
        // a budget-exhausted dispatcher waits for the worker's next park while slots stand
        // free. It still yields whenever the queue is empty or every slot is taken.
        tokio::task::unconstrained(async {
            loop {
                if *stop.borrow() {
                    break;
                }
                let ready = tokio::select! {
                    r = ready_rx.recv() => r,
                    _ = stop.changed() => None,
                };
                let Some(ready) = ready else { break };
                let slot = tokio::select! {
                    s = Slot::acquire(&sending, &unrecorded) => s,
                    _ = stop.changed() => {
                        me.put_back(ready.delivery.id).await;
                        break;
                    }
                };
                me.start(ready, slot, &done_tx);
            }
        })
        .await;
        // Graceful shutdown: no new claims or sends; what was claimed but not started is put
        // back at once. In-flight sends get `grace` to finish and their outcomes to be recorded;
        // anything still unfinished keeps its lease and is claimed again after it expires.
        let _ = claimer.await;
        while let Some(ready) = ready_rx.recv().await {
            me.put_back(ready.delivery.id).await;
        }
        // Unrecorded slots come back once their delivery is recorded: all back, all recorded.
        drop(done_tx);
        if tokio::time::timeout(grace, unrecorded.acquire_many(2 * concurrency as u32))
            .await
            .is_err()
        {
            warn!(
                "shutdown: some briefs were still being sent; they will be resent after their lease"
            );
        } else {
            let _ = recorder.await;
        }
    }

    /// The claiming stage: composes the briefs of deliveries handed off by the scheduler, and
    /// whenever the store may hold claimable ones (at start, when woken by `planned`, when the
    /// next one falls due) and a quarter of the queue's room is free, claims what fits (at most
    /// [`CLAIM_BATCH`]); each batch's briefs are composed at once and queued in order.
    async fn claim_ahead(
        self: Arc<Self>,
        ready: mpsc::UnboundedSender<Ready>,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(mut handed) = self.handed.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let room = self.handoff.room.clone();
        // However this task ends, the scheduler stops handing off to it.
        let _closing = CloseOnDrop(room.clone());
        let batch = self.handoff.page as u32;
        // Whether the store may hold deliveries to claim; else, when the next one is due.
        let mut claimable = true;
        let mut wake = None;
        loop {
            if *stop.borrow() {
                break;
            }
            if claimable {
                let mut places = tokio::select! {
                    p = room.clone().acquire_many_owned(batch) => p.expect("the room is open while claiming"),
                    Some(h) = handed.recv() => {
                        if !self.queue(h.deliveries, h.places, &ready).await {
                            break;
                        }
                        continue;
                    }
                    _ = stop.changed() => continue,
                };
                let more = room.available_permits().min(CLAIM_BATCH - batch as usize) as u32;
                if let Ok(more) = room.clone().try_acquire_many_owned(more) {
                    places.merge(more);
                }
                let now = self.core.clock().now();
                let claimed = self
                    .core
                    .store()
                    .claim_deliveries(
                        now,
                        self.handoff.lease_from(now),
                        places.num_permits() as i64,
                    )
                    .await
                    .unwrap_or_else(|e| {
                        warn!(error = %e, "cannot claim deliveries");
                        Vec::new()
                    });
                if !claimed.is_empty() {
                    if !self.queue(claimed, places, &ready).await {
                        break;
                    }
                    continue;
                }
                drop(places);
                // Nothing claimable: wait until the next delivery is due, new ones are planned,
                // or shutdown (and at least every minute: another instance may have planned
                // some).
                claimable = false;
                let next = self.core.store().next_delivery_at().await.ok().flatten();
                let horizon = now + chrono::Duration::minutes(5);
                wake = Some(
                    next.unwrap_or(horizon)
                        .clamp(now + chrono::Duration::milliseconds(1), horizon),
                );
            }
            let clock = self.core.clock().clone();
            let due = async {
                match wake {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(h) = handed.recv() => {
                    if !self.queue(h.deliveries, h.places, &ready).await {
                        break;
                    }
                }
                _ = due => claimable = true,
                _ = self.planned.notified() => claimable = true,
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(60)) => claimable = true,
            }
        }
        // Stopped: no more hand-offs; those not queued yet are put back.
        room.close();
        handed.close();
        while let Some(h) = handed.recv().await {
            for delivery in h.deliveries {
                self.put_back(delivery.id).await;
            }
        }
    }

    /// Composes a batch's briefs and queues them in order, each holding one of `places`. Returns
    /// false when the queue is gone (shutdown).
    async fn queue(
        &self,
        deliveries: Vec<Delivery>,
        mut places: OwnedSemaphorePermit,
        ready: &mpsc::UnboundedSender<Ready>,
    ) -> bool {
        // Composing failed: the leases expire and the deliveries are claimed again then.
        let Some(briefs) = self.compose(&deliveries).await else {
            return true;
        };
        for (delivery, brief) in deliveries.into_iter().zip(briefs) {
            let Some(place) = places.split(1) else { break };
            let queued = Ready {
                delivery,
                brief,
                _place: place,
            };
            if ready.send(queued).is_err() {
                return false;
            }
        }
        true
    }

    /// The briefs of a claimed batch, composed at once and prepared by their platform's sender,
    /// one per delivery (`None` for a paused subscription, nothing to send, or no sender for the
    /// platform here). A brief shared by several subscriptions is prepared once. `None` when
    /// composing failed: the claims are left to expire and are retried after the lease.
    async fn compose(&self, claimed: &[Delivery]) -> Option<Vec<Option<Brief>>> {
        let active: Vec<&Subscription> = claimed
            .iter()
            .filter(|d| d.subscription.paused_reason.is_none())
            .map(|d| &d.subscription)
            .collect();
        let briefs = match self.core.briefs(&active).await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "cannot compose briefs");
                return None;
            }
        };
        // Keyed by the shared reply's address: `briefs` holds every reply until the end, so an
        // address names one reply throughout.
        let mut prepared: HashMap<(Platform, *const Reply), Prepared> = HashMap::new();
        let mut briefs = briefs.iter();
        Some(
            claimed
                .iter()
                .map(|d| {
                    if d.subscription.paused_reason.is_some() {
                        return None;
                    }
                    let (reply, insights) = briefs.next()?.as_ref()?;
                    let platform = d.subscription.chat.platform;
                    let sender = self.senders.get(&platform)?;
                    let brief = prepared
                        .entry((platform, Arc::as_ptr(reply)))
                        .or_insert_with(|| sender.prepare(reply))
                        .clone();
                    Some(Brief {
                        brief,
                        insights: insights.clone(),
                    })
                })
                .collect(),
        )
    }

    /// Starts the send of one queued delivery in a task of its own, holding `slot`.
    fn start(self: &Arc<Self>, ready: Ready, slot: Slot, done: &mpsc::UnboundedSender<Finished>) {
        let Ready {
            delivery,
            brief,
            _place,
        } = ready;
        // It leaves the queue: its place is free for the next claim.
        drop(_place);
        let (worker, done) = (self.clone(), done.clone());
        tokio::spawn(async move {
            let id = delivery.id;
            let result = worker.deliver(delivery, brief).await;
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

    /// Puts delivery `id`, claimed but never sent, back: due at once, its lease released
    /// (shutdown).
    async fn put_back(&self, id: i64) {
        let now = self.core.clock().now();
        if let Err(e) = self.core.store().retry_delivery(id, now, None).await {
            warn!(delivery = id, error = %e, "cannot put back an unsent delivery; it is claimed again after its lease");
        }
    }

    /// Sends one delivery's brief, retrying in place where the error allows; returns how it
    /// ended, to be recorded in a batch (`None` when it was put back for later).
    async fn deliver(
        &self,
        d: Delivery,
        brief: Option<Brief>,
    ) -> Result<Option<DeliveryDone>, StoreError> {
        let store = self.core.store();
        let sub = &d.subscription;
        let ended = |outcome, error: Option<String>| {
            Ok(Some(DeliveryDone {
                id: d.id,
                subscription: sub.id,
                result: DeliveryResult::Ended { outcome, error },
            }))
        };
        if sub.paused_reason.is_some() {
            return ended(DeliveryOutcome::Failed, sub.paused_reason.clone());
        }
        let Some(sender) = self.senders.get(&sub.chat.platform).cloned() else {
            // Another instance (or a later start) with that platform connected will send it.
            let later = self.core.clock().now() + chrono::Duration::minutes(1);
            let e = format!(
                "no {} connection in this process",
                sub.chat.platform.as_str()
            );
            store.retry_delivery(d.id, later, Some(&e)).await?;
            return Ok(None);
        };
        let Some(Brief { brief, insights }) = brief else {
            return ended(DeliveryOutcome::Empty, None);
        };
        let mut attempt = d.attempts.max(1) as u32;
        loop {
            let started = std::time::Instant::now();
            let result = sender.send_prepared(&sub.chat, &brief, d.id).await;
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
                    return Ok(Some(DeliveryDone {
                        id: d.id,
                        subscription: sub.id,
                        result: DeliveryResult::Sent {
                            message_ids,
                            insights,
                            at: now,
                        },
                    }));
                }
                Err(SendError::Gone(reason)) => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Failed);
                    warn!(subscription = sub.id, %reason, "chat unavailable; subscription paused");
                    store.pause_subscription(sub.id, &reason).await?;
                    return ended(DeliveryOutcome::Failed, Some(reason));
                }
                Err(e) if attempt >= self.settings.max_attempts => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Failed);
                    warn!(subscription = sub.id, error = %e, attempts = attempt, "brief failed");
                    return ended(DeliveryOutcome::Failed, Some(e.to_string()));
                }
                Err(SendError::RetryAfter(wait)) if wait > WAIT_IN_PLACE => {
                    metrics.delivery(sub.chat.platform, DeliveryEvent::Retried);
                    let at = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    store
                        .retry_delivery(
                            d.id,
                            at,
                            Some(&format!("rate limited; retry after {wait:?}")),
                        )
                        .await?;
                    return Ok(None);
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

/// When a lease of `lease` taken at `now` ends.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(10))
}

/// Closes the outbox's room when dropped: the scheduler then stops handing off.
struct CloseOnDrop(Arc<Semaphore>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl OutboxSettings {
    /// Places in the queue of composed briefs: eight times the sends in flight, at most four
    /// claims (1,024). Planning a page and composing it take a few milliseconds on a busy
    /// machine; with room for twice the sends in flight only, a fast fan-out's slots stood idle
    /// waiting for the queue most of the time.
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

/// A claimed delivery with its composed brief, queued until a slot is free; `_place` is its
/// place in the claim-ahead queue, given back when it leaves the queue.
struct Ready {
    delivery: Delivery,
    brief: Option<Brief>,
    _place: OwnedSemaphorePermit,
}

/// A composed brief, prepared for its platform, and the insights it delivers.
struct Brief {
    brief: Prepared,
    insights: Vec<InsightId>,
}

/// A finished delivery waiting to be recorded, with the unrecorded slot it keeps taken until
/// then: so at most `2 × concurrency` briefs are ever sent but unrecorded (the duplicates a crash
/// can cause).
type Finished = (DeliveryDone, OwnedSemaphorePermit);

/// Writes finished deliveries in batches: whatever has arrived while the previous transaction
/// committed goes into the next one (group commit), then frees their slots. A failed write is
/// retried; if it keeps failing, the leases expire and those deliveries are sent again
/// (at-least-once).
async fn record(core: Arc<Core>, mut done: mpsc::UnboundedReceiver<Finished>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while done.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let rows: Vec<DeliveryDone> = batch.iter().map(|(d, _)| d.clone()).collect();
        let mut attempt = 1;
        while let Err(e) = core.store().record_deliveries(&rows).await {
            if attempt >= 5 {
                warn!(error = %e, deliveries = batch.len(), "cannot record sent briefs; they will be resent after their lease");
                break;
            }
            warn!(error = %e, attempt, "recording sent briefs failed; retrying");
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
        batch.clear();
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
