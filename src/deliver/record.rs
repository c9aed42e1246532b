//! Recording: finished deliveries are written by one task, whatever has arrived while the
//! previous transaction committed going into the next one (group commit). A sent brief's message
//! ids and delivered insights are written in the same transaction that closes its row.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::warn;

use crate::core::Core;
use crate::store::DeliveryDone;

/// Most deliveries recorded in one transaction.
const RECORD_BATCH: usize = 512;

/// Attempts at writing one batch before it is left to the leases.
const RECORD_ATTEMPTS: u32 = 5;

/// A finished delivery waiting to be recorded, with the unrecorded slot it keeps taken until
/// then: so at most `2 × concurrency` briefs are ever sent but unrecorded (the duplicates a crash
/// can cause).
pub(super) type Finished = (DeliveryDone, OwnedSemaphorePermit);

/// Writes finished deliveries in batches until every sender of `done` is gone, then frees their
/// slots. A failed write is retried; if it keeps failing, the leases expire and those deliveries
/// are sent again (at-least-once).
pub(super) async fn record(core: Arc<Core>, mut done: mpsc::UnboundedReceiver<Finished>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while done.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let rows: Vec<DeliveryDone> = batch.iter().map(|(d, _)| d.clone()).collect();
        let mut attempt = 1;
        while let Err(e) = core.store().record_deliveries(&rows).await {
            if attempt >= RECORD_ATTEMPTS {
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
