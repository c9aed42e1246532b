//! Claiming: the outbox's first stage. It takes the pages the scheduler hands off, already
//! leased, and claims the other due deliveries with a lease (retries put back, leases expired
//! after a crash, rows planned by a process without an outbox), as the queue has room.
//!
//! The queue of composed briefs waiting for a sending slot has `OutboxSettings::queue_room`
//! places, taken by claims and hand-offs alike: a fan-out is planned as fast as it is sent, and
//! a lease starts when its brief is about to be sent.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::warn;

use super::compose::{Composer, Ready};
use crate::core::Core;
use crate::store::Delivery;

/// Most deliveries claimed at once.
pub(super) const CLAIM_BATCH: usize = 256;

/// The scheduler's way into this process's outbox: deliveries it plans already leased, so they
/// are sent without being claimed (no second write, no second read of their subscriptions).
#[derive(Clone)]
pub struct Handoff {
    /// Places in the queue, taken by claims and by hand-offs alike.
    room: Arc<Semaphore>,
    /// The fewest places a page or a claim waits for (a quarter of the room), so a fan-out is
    /// planned in pages, not a transaction per freed place.
    page: usize,
    lease: Duration,
    tx: mpsc::UnboundedSender<Handed>,
}

/// Deliveries handed to the outbox with their places in its queue.
pub(super) struct Handed {
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
    /// A hand-off into a queue of `room` places whose deliveries are leased for `lease`, and
    /// the receiving end the claiming stage reads.
    pub(super) fn new(room: usize, lease: Duration) -> (Handoff, mpsc::UnboundedReceiver<Handed>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handoff = Handoff {
            room: Arc::new(Semaphore::new(room)),
            page: (room / 4).max(1),
            lease,
            tx,
        };
        (handoff, rx)
    }

    /// Waits for places for a page of deliveries in the outbox's queue (a quarter of its room,
    /// or `max` if fewer) and takes what else is free, up to `max`; `None` once the outbox has
    /// stopped.
    pub async fn room(&self, max: usize) -> Option<Room> {
        let least = self.page.min(max).max(1);
        let places = self
            .room
            .clone()
            .acquire_many_owned(least as u32)
            .await
            .ok()?;
        Some(Room(self.take_more(places, max)))
    }

    /// Adds to `places` what else is free, up to `max` in all.
    fn take_more(&self, mut places: OwnedSemaphorePermit, max: usize) -> OwnedSemaphorePermit {
        let more = self
            .room
            .available_permits()
            .min(max.saturating_sub(places.num_permits())) as u32;
        if let Ok(more) = self.room.clone().try_acquire_many_owned(more) {
            places.merge(more);
        }
        places
    }

    /// Whether the outbox has stopped taking deliveries.
    pub fn is_closed(&self) -> bool {
        self.room.is_closed()
    }

    /// When the lease of a delivery planned at `now` ends.
    pub fn lease_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(10))
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

/// The claiming stage of one outbox.
pub(super) struct Claimer {
    pub(super) core: Arc<Core>,
    pub(super) handoff: Handoff,
    pub(super) handed: mpsc::UnboundedReceiver<Handed>,
    /// Notified when deliveries were planned without a lease (by another instance).
    pub(super) planned: Arc<Notify>,
}

impl Claimer {
    /// Queues the briefs of handed-off deliveries, and whenever the store may hold claimable
    /// ones (at start, when woken by `planned`, when the next one falls due, at least every
    /// minute) and a page of the queue is free, claims what fits (at most [`CLAIM_BATCH`]).
    /// Each batch is composed at once and queued in order. Ends at `stop`, closing the hand-off.
    pub(super) async fn run(
        mut self,
        composer: Arc<Composer>,
        ready: mpsc::UnboundedSender<Ready>,
        mut stop: watch::Receiver<bool>,
    ) {
        // However this task ends, the scheduler stops handing off to it.
        let _closing = CloseOnDrop(self.handoff.room.clone());
        // Whether the store may hold deliveries to claim; else, when the next one is due.
        let mut claimable = true;
        let mut wake = None;
        while !*stop.borrow() {
            if claimable {
                let room = self.handoff.room.clone();
                let batch = self.handoff.page as u32;
                let (deliveries, places) = tokio::select! {
                    p = room.acquire_many_owned(batch) => match p {
                        Ok(places) => self.claim(places).await,
                        Err(_) => break,
                    },
                    Some(h) = self.handed.recv() => (h.deliveries, h.places),
                    _ = stop.changed() => continue,
                };
                if !deliveries.is_empty() {
                    if !composer.queue(deliveries, places, &ready).await {
                        break;
                    }
                    continue;
                }
                drop(places);
                claimable = false;
                wake = Some(self.next_due().await);
            }
            let clock = self.core.clock().clone();
            let due = async {
                match wake {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(h) = self.handed.recv() => {
                    if !composer.queue(h.deliveries, h.places, &ready).await {
                        break;
                    }
                }
                _ = due => claimable = true,
                _ = self.planned.notified() => claimable = true,
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(60)) => claimable = true,
            }
        }
        self.close().await;
    }

    /// Claims as many due deliveries as `places` (and what else is free, up to
    /// [`CLAIM_BATCH`]) hold; a failed claim claims nothing.
    async fn claim(&self, places: OwnedSemaphorePermit) -> (Vec<Delivery>, OwnedSemaphorePermit) {
        let places = self.handoff.take_more(places, CLAIM_BATCH);
        let now = self.core.clock().now();
        let until = self.handoff.lease_from(now);
        let claimed = self
            .core
            .store()
            .claim_deliveries(now, until, places.num_permits() as i64)
            .await
            .unwrap_or_else(|e| {
                warn!(error = %e, "cannot claim deliveries");
                Vec::new()
            });
        (claimed, places)
    }

    /// When to look for claimable deliveries again: when the next one is due, within 1 ms to
    /// 5 minutes from now.
    async fn next_due(&self) -> DateTime<Utc> {
        let now = self.core.clock().now();
        let next = self.core.store().next_delivery_at().await.ok().flatten();
        let horizon = now + chrono::Duration::minutes(5);
        next.unwrap_or(horizon)
            .clamp(now + chrono::Duration::milliseconds(1), horizon)
    }

    /// Stopped: no more hand-offs; those not queued yet are put back.
    async fn close(mut self) {
        self.handoff.room.close();
        self.handed.close();
        while let Some(h) = self.handed.recv().await {
            for delivery in h.deliveries {
                put_back(&self.core, delivery.id).await;
            }
        }
    }
}

/// Puts delivery `id`, claimed but never sent, back: due at once, its lease released
/// (shutdown).
pub(super) async fn put_back(core: &Core, id: i64) {
    let now = core.clock().now();
    if let Err(e) = core.store().retry_delivery(id, now, None).await {
        warn!(delivery = id, error = %e, "cannot put back an unsent delivery; it is claimed again after its lease");
    }
}

/// Closes the outbox's room when dropped: the scheduler then stops handing off.
struct CloseOnDrop(Arc<Semaphore>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}
