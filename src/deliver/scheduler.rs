//! The scheduler: wakes at the earliest `next_run_at`, writes one delivery row per
//! (subscription, occurrence) and advances the subscription to its next occurrence.
//!
//! An occurrence missed by more than `catch_up` (the bot was down) is recorded as `missed`, not
//! sent. Creating the row and advancing `next_run_at` happen in one transaction, and the row's
//! unique key means a second scheduler (or a restart) can never create a second one.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tracing::{info, warn};

use super::outbox::Handoff;
use crate::core::Core;
use crate::core::model::Subscription;
use crate::core::schedule::{Schedule, parse_timezone};
use crate::store::{Delivery, Plan, StoreError};

/// Plans deliveries when subscriptions are due.
pub struct Scheduler {
    core: Arc<Core>,
    catch_up: chrono::Duration,
    planned: Arc<Notify>,
    handoff: Option<Handoff>,
}

impl Scheduler {
    /// A scheduler that notifies `planned` whenever it creates deliveries.
    pub fn new(core: Arc<Core>, catch_up: std::time::Duration, planned: Arc<Notify>) -> Scheduler {
        Scheduler {
            core,
            catch_up: chrono::Duration::from_std(catch_up).unwrap_or(chrono::Duration::hours(6)),
            planned,
            handoff: None,
        }
    }

    /// Hands what it plans to this process's outbox, leased, as the outbox has room for it
    /// (see [`Handoff`]), rather than leaving it for a claim.
    pub fn with_handoff(mut self, handoff: Handoff) -> Scheduler {
        self.handoff = Some(handoff);
        self
    }

    /// Runs until the task is aborted, or until its outbox stops when it has one.
    pub async fn run(self) {
        let changed = self.core.schedule_changed();
        loop {
            let now = self.core.clock().now();
            if let Err(e) = self.tick(now).await {
                warn!(error = %e, "scheduler tick failed");
            }
            if self.handoff.as_ref().is_some_and(Handoff::is_closed) {
                // It plans for its outbox, which has stopped.
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

    /// Plans every occurrence due at `now`; returns how many deliveries it created to send.
    ///
    /// With a hand-off, each page waits for room in the outbox's queue and is handed to it
    /// leased, so a large fan-out is planned as it is sent; `now` stays the tick's start
    /// throughout, so an occurrence is judged missed by when the bot came to it, not by how long
    /// the fan-out before it took.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut planned = 0;
        // Pages: one read and one transaction per page, and the outbox starts on the first page
        // while the rest are planned. Planning moves a subscription past `now`, so the next read
        // returns the next page; one seen before means another scheduler is at work (or a plan
        // could not move it), and this tick ends.
        let mut seen = std::collections::HashSet::new();
        loop {
            // With a hand-off: the outbox and the places this page may take in its queue.
            let handing = match &self.handoff {
                Some(h) => match h.room(PLAN_BATCH).await {
                    Some(room) => Some((h, room)),
                    // The outbox has stopped (shutdown): nothing more to plan here.
                    None => break,
                },
                None => None,
            };
            let limit = handing.as_ref().map_or(PLAN_BATCH, |(_, room)| room.len());
            let page = self
                .core
                .store()
                .due_subscriptions(now, limit as i64)
                .await?;
            let batch: Vec<Subscription> = page.into_iter().filter(|s| seen.insert(s.id)).collect();
            if batch.is_empty() {
                break;
            }
            // Subscriptions of a fan-out mostly share their schedule, zone and occurrence: each
            // next occurrence is worked out once per page.
            let mut next_runs = std::collections::HashMap::new();
            let plans: Vec<Plan> = batch
                .iter()
                .map(|s| self.plan(s, now, &mut next_runs))
                .collect();
            let lease_until = handing
                .as_ref()
                .map(|(h, _)| h.lease_from(self.core.clock().now()));
            let created = self
                .core
                .store()
                .plan_deliveries(&plans, now, lease_until)
                .await?;
            let mut leased = Vec::new();
            for ((plan, sub), id) in plans.iter().zip(batch).zip(created) {
                let Some(id) = id else { continue };
                if plan.missed {
                    info!(subscription = plan.subscription, occurrence = %plan.occurrence, "brief missed while down; not sent");
                    continue;
                }
                planned += 1;
                if lease_until.is_some() {
                    leased.push(Delivery {
                        id,
                        occurrence: plan.occurrence,
                        attempts: 1,
                        subscription: sub,
                    });
                }
            }
            match handing {
                Some((h, room)) => {
                    if let Err(unsent) = h.hand(leased, room) {
                        // The outbox stopped meanwhile: due at once for whichever claims next.
                        for d in unsent {
                            self.core.store().retry_delivery(d.id, now, None).await?;
                        }
                    }
                }
                None if planned > 0 => self.planned.notify_one(),
                None => {}
            }
        }
        Ok(planned)
    }

    /// The plan of `sub`'s due occurrence; `next_runs` remembers the next occurrence after each
    /// (schedule, zone, occurrence) seen.
    fn plan<'a>(
        &self,
        sub: &'a Subscription,
        now: DateTime<Utc>,
        next_runs: &mut NextRuns<'a>,
    ) -> Plan {
        let occurrence = sub.next_run_at;
        let next = *next_runs
            .entry((&sub.schedule, &sub.timezone, occurrence))
            .or_insert_with(|| {
                match (
                    Schedule::parse(&sub.schedule),
                    parse_timezone(&sub.timezone),
                ) {
                    (Ok(s), Ok(tz)) => s.next_after(now.max(occurrence), tz),
                    _ => None,
                }
            });
        let next = next.unwrap_or_else(|| {
            warn!(subscription = sub.id, schedule = %sub.schedule, "unreadable schedule; trying again tomorrow");
            now + chrono::Duration::days(1)
        });
        Plan {
            subscription: sub.id,
            occurrence,
            next_run_at: next,
            missed: now - occurrence > self.catch_up,
        }
    }
}

/// Next occurrences by (schedule, zone, occurrence), within one page.
type NextRuns<'a> =
    std::collections::HashMap<(&'a str, &'a str, DateTime<Utc>), Option<DateTime<Utc>>>;

/// Occurrences read and planned per transaction.
const PLAN_BATCH: usize = 500;
