//! Composing: a batch's briefs written at once, and each distinct brief prepared once per
//! platform, ahead of the sends.
//!
//! The ranking is the core's ([`Core::rank_many`]: candidates read once, delivered insights of
//! the whole batch in one query, rankings shared). Subscriptions that get the same insights on
//! the same local date share one reply, so a fan-out renders each distinct brief once per
//! platform.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::warn;

use super::{PreparedBrief, Sender};
use crate::core::Core;
use crate::core::model::{Card, InsightId, Platform, Reply, Subscription};
use crate::store::{Delivery, StoreError};

/// The briefs of several subscriptions: the distinct replies, and for each subscription in
/// order the reply it gets (an index into `replies`) with the insights it carries; `None` where
/// there is nothing new and empty briefs are skipped.
#[derive(Debug, Default)]
pub struct Briefs {
    /// The distinct replies.
    pub replies: Vec<Arc<Reply>>,
    /// Each subscription's reply and insights.
    pub each: Vec<Option<(usize, Vec<InsightId>)>>,
}

/// The brief messages of `subs` (a fan-out batch), in order.
pub async fn briefs(core: &Core, subs: &[&Subscription]) -> Result<Briefs, StoreError> {
    let ranked = core.rank_many(subs).await?;
    let now = core.clock().now();
    let skip_empty = core.settings().skip_empty;
    let mut shared: HashMap<(String, Vec<InsightId>), usize> = HashMap::new();
    // The local date, worked out once per timezone of the batch.
    let mut dates: HashMap<&str, String> = HashMap::new();
    let mut out = Briefs::default();
    for (sub, picked) in subs.iter().zip(ranked) {
        let date = dates
            .entry(sub.timezone.as_str())
            .or_insert_with(|| {
                now.with_timezone(&sub.timezone.tz())
                    .format("%A %-d %B")
                    .to_string()
            })
            .clone();
        if picked.is_empty() && skip_empty {
            out.each.push(None);
            continue;
        }
        let ids: Vec<InsightId> = picked.iter().map(|i| i.id).collect();
        let replies = &mut out.replies;
        let at = *shared
            .entry((date, ids.clone()))
            .or_insert_with_key(|(date, _)| {
                replies.push(Arc::new(brief_message(date, &picked)));
                replies.len() - 1
            });
        out.each.push(Some((at, ids)));
    }
    Ok(out)
}

/// The brief message for one subscription, with the ids of its insights: `None` when there is
/// nothing new and empty briefs are skipped.
pub async fn brief(
    core: &Core,
    sub: &Subscription,
) -> Result<Option<(Reply, Vec<InsightId>)>, StoreError> {
    let mut b = briefs(core, &[sub]).await?;
    Ok(b.each.pop().flatten().map(|(at, ids)| {
        let reply = b.replies.swap_remove(at);
        (Arc::unwrap_or_clone(reply), ids)
    }))
}

/// The message of a brief dated `date` carrying `picked`.
fn brief_message(date: &str, picked: &[crate::core::model::InsightView]) -> Reply {
    if picked.is_empty() {
        Reply::text(format!("podbrief for {date}: nothing new today."))
    } else {
        Reply {
            text: format!("podbrief for {date}: the top {} insights", picked.len()),
            cards: picked.iter().map(Card::from).collect(),
        }
    }
}

/// The connected platforms' senders.
pub(super) type Senders = HashMap<Platform, Arc<dyn Sender>>;

/// A brief prepared for its platform, and the insights it delivers.
pub(super) struct Brief {
    pub(super) prepared: Arc<PreparedBrief>,
    pub(super) insights: Vec<InsightId>,
}

/// A delivery with its composed brief, queued until a sending slot is free; `place` is its place
/// in the queue, given back when it leaves the queue.
pub(super) struct Ready {
    pub(super) delivery: Delivery,
    /// `None` for a paused subscription, nothing to send, or no sender for the platform here.
    pub(super) brief: Option<Brief>,
    pub(super) place: OwnedSemaphorePermit,
}

/// Composes batches of deliveries into queued briefs.
pub(super) struct Composer {
    pub(super) core: Arc<Core>,
    pub(super) senders: Arc<Senders>,
}

impl Composer {
    /// Composes a batch's briefs and queues them in order, each holding one of `places`. Returns
    /// false when the queue is gone (shutdown). When composing fails, the batch's leases expire
    /// and its deliveries are claimed again then.
    pub(super) async fn queue(
        &self,
        deliveries: Vec<Delivery>,
        mut places: OwnedSemaphorePermit,
        ready: &mpsc::UnboundedSender<Ready>,
    ) -> bool {
        let briefs = match self.compose(&deliveries).await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, deliveries = deliveries.len(), "cannot compose briefs; they are retried after their lease");
                return true;
            }
        };
        for (delivery, brief) in deliveries.into_iter().zip(briefs) {
            let Some(place) = places.split(1) else { break };
            let queued = Ready {
                delivery,
                brief,
                place,
            };
            if ready.send(queued).is_err() {
                return false;
            }
        }
        true
    }

    /// The briefs of a batch, one per delivery, each distinct brief prepared once per platform.
    async fn compose(&self, batch: &[Delivery]) -> Result<Vec<Option<Brief>>, StoreError> {
        let active: Vec<&Subscription> = batch
            .iter()
            .map(|d| &d.subscription)
            .filter(|s| s.paused_reason.is_none())
            .collect();
        let composed = briefs(&self.core, &active).await?;
        let mut prepared: HashMap<(Platform, usize), Arc<PreparedBrief>> = HashMap::new();
        let mut each = composed.each.into_iter();
        Ok(batch
            .iter()
            .map(|d| {
                if d.subscription.paused_reason.is_some() {
                    return None;
                }
                let (at, insights) = each.next()??;
                let platform = d.subscription.chat.platform;
                let sender = self.senders.get(&platform)?;
                let prepared = prepared
                    .entry((platform, at))
                    .or_insert_with(|| Arc::new(sender.prepare(composed.replies[at].clone())))
                    .clone();
                Some(Brief { prepared, insights })
            })
            .collect())
    }
}
