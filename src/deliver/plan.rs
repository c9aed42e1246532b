//! Planning: due subscriptions become delivery rows, one per (subscription, occurrence), and
//! move on to their next occurrence.
//!
//! Creating a page's rows and advancing their subscriptions' `next_run_at` happen in one
//! transaction, only where `next_run_at` still is that occurrence, and the rows' unique key means
//! a second scheduler (another instance, or a restart) never creates a second one. An occurrence
//! missed by more than `catch_up` (the bot was down) is recorded as `missed`, not sent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::claim::{Handoff, Room};
use crate::core::Core;
use crate::core::model::Subscription;
use crate::store::{Delivery, Plan, StoreError};

/// Occurrences read and planned per transaction.
const PLAN_BATCH: usize = 500;

/// The scheduler of a running bot: plans due deliveries page by page as its outbox has room
/// for them, and hands them over already leased (see [`Handoff`]).
pub struct Scheduler {
    core: Arc<Core>,
    catch_up: chrono::Duration,
    handoff: Handoff,
}

impl Scheduler {
    /// A scheduler planning for the outbox behind `handoff`.
    pub fn new(core: Arc<Core>, catch_up: std::time::Duration, handoff: Handoff) -> Scheduler {
        Scheduler {
            core,
            catch_up: catch_up_of(catch_up),
            handoff,
        }
    }

    /// Runs until the task is aborted or its outbox stops.
    pub async fn run(self) {
        let changed = self.core.schedule_changed();
        loop {
            let now = self.core.clock().now();
            if let Err(e) = self.tick(now).await {
                warn!(error = %e, "scheduler tick failed");
            }
            if self.handoff.is_closed() {
                return;
            }
            let next = self.core.store().next_run_at().await.unwrap_or_else(|e| {
                warn!(error = %e, "cannot read the next run");
                None
            });
            // Re-plan at least hourly; wake early when a subscription changes.
            let horizon = now + chrono::Duration::hours(1);
            let wake = next.unwrap_or(horizon).clamp(now, horizon);
            let clock = self.core.clock().clone();
            tokio::select! {
                _ = clock.sleep_until(wake) => {}
                _ = changed.notified() => {}
            }
        }
    }

    /// Plans every occurrence due at `now`, each page once the outbox's queue has room for it;
    /// returns how many deliveries it handed over to send.
    ///
    /// `now` stays the tick's start throughout, so an occurrence is judged missed by when the bot
    /// came to it, not by how long the fan-out before it took.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut pages = Pages::new(&self.core, now, self.catch_up);
        let mut planned = 0;
        // `None`: the outbox has stopped (shutdown), nothing more to plan here.
        while let Some(room) = self.handoff.room(PLAN_BATCH).await {
            let lease_until = self.handoff.lease_from(self.core.clock().now());
            let Some(leased) = pages.next(room.len(), Some(lease_until)).await? else {
                break;
            };
            planned += leased.len();
            self.hand(leased, room, now).await?;
        }
        Ok(planned)
    }

    /// Hands a page's deliveries to the outbox, or, if it stopped meanwhile, makes them due at
    /// once for whichever instance claims next.
    async fn hand(
        &self,
        leased: Vec<Delivery>,
        room: Room,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Err(unsent) = self.handoff.hand(leased, room) {
            for d in unsent {
                self.core.store().retry_delivery(d.id, now, None).await?;
            }
        }
        Ok(())
    }
}

/// Plans every occurrence due at `now` without a lease, for a process with no outbox: the rows
/// wait for a claim (on PostgreSQL, planning them wakes every instance's outbox). Returns how
/// many deliveries it created to send.
pub async fn plan_due(
    core: &Core,
    now: DateTime<Utc>,
    catch_up: std::time::Duration,
) -> Result<usize, StoreError> {
    let mut pages = Pages::new(core, now, catch_up_of(catch_up));
    let mut planned = 0;
    while let Some(created) = pages.next(PLAN_BATCH, None).await? {
        planned += created.len();
    }
    Ok(planned)
}

fn catch_up_of(catch_up: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(catch_up).unwrap_or(chrono::Duration::hours(6))
}

/// One tick's pages of due subscriptions: one read and one transaction per page.
///
/// Planning moves a subscription past `now`, so the next read returns the next page; one seen
/// before means another scheduler is at work (or a plan could not move it), and the tick ends.
struct Pages<'a> {
    core: &'a Core,
    now: DateTime<Utc>,
    catch_up: chrono::Duration,
    seen: HashSet<i64>,
}

impl<'a> Pages<'a> {
    fn new(core: &'a Core, now: DateTime<Utc>, catch_up: chrono::Duration) -> Pages<'a> {
        Pages {
            core,
            now,
            catch_up,
            seen: HashSet::new(),
        }
    }

    /// Plans the next page of at most `limit` due subscriptions, leased until `lease_until` if
    /// given; returns the deliveries created to send, or `None` when nothing new is due.
    async fn next(
        &mut self,
        limit: usize,
        lease_until: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<Delivery>>, StoreError> {
        let store = self.core.store();
        let page = store.due_subscriptions(self.now, limit as i64).await?;
        let batch: Vec<Subscription> = page
            .into_iter()
            .filter(|s| self.seen.insert(s.id))
            .collect();
        if batch.is_empty() {
            return Ok(None);
        }
        let plans = self.plans(&batch);
        let created = store.plan_deliveries(&plans, self.now, lease_until).await?;
        let mut to_send = Vec::new();
        for ((plan, sub), id) in plans.iter().zip(batch).zip(created) {
            let Some(id) = id else { continue };
            if plan.missed {
                info!(subscription = plan.subscription, occurrence = %plan.occurrence, "brief missed while down; not sent");
                continue;
            }
            to_send.push(Delivery {
                id,
                occurrence: plan.occurrence,
                attempts: 1,
                subscription: sub,
            });
        }
        Ok(Some(to_send))
    }

    /// The plans of a page. Subscriptions of a fan-out mostly share their schedule, zone and
    /// occurrence: each next occurrence is worked out once per page.
    fn plans(&self, batch: &[Subscription]) -> Vec<Plan> {
        let mut next_runs: NextRuns = HashMap::new();
        batch
            .iter()
            .map(|sub| {
                let occurrence = sub.next_run_at;
                let next = *next_runs
                    .entry((sub.schedule.as_str(), sub.timezone.as_str(), occurrence))
                    .or_insert_with(|| self.next_run(sub));
                let next = next.unwrap_or_else(|| {
                    warn!(subscription = sub.id, schedule = %sub.schedule, "the schedule has no next occurrence; trying again tomorrow");
                    self.now + chrono::Duration::days(1)
                });
                Plan {
                    subscription: sub.id,
                    occurrence,
                    next_run_at: next,
                    missed: self.now - occurrence > self.catch_up,
                }
            })
            .collect()
    }

    /// The occurrence after `sub`'s due one (and after now); `None` when its schedule has none.
    fn next_run(&self, sub: &Subscription) -> Option<DateTime<Utc>> {
        sub.schedule
            .next_after(self.now.max(sub.next_run_at), sub.timezone.tz())
    }
}

/// Next occurrences by (schedule, zone, occurrence), within one page.
type NextRuns<'a> = HashMap<(&'a str, &'a str, DateTime<Utc>), Option<DateTime<Utc>>>;
