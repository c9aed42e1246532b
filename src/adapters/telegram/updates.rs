//! Receiving Telegram updates: long polling that confirms only handled updates, and a dispatcher
//! that handles different chats at once while keeping each chat's updates in order.
//!
//! Telegram forgets every update below the `offset` of a `getUpdates` call. podbrief's offset is
//! the lowest update still being handled (or one past the last fetched when none is), so an
//! update is confirmed only once it has been answered; on a graceful stop the handled ones are
//! confirmed before podbrief exits, and a restart never answers them again.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::AllowedUpdate;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, info, warn};

use super::{Ctx, on_update};
use crate::adapters::telegram::send::redact;

/// How long a `getUpdates` long poll waits for an update.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// The HTTP client's timeout: longer than a poll, so an idle poll ends with Telegram's empty
/// answer rather than a client error.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(POLL_TIMEOUT.as_secs() + 10);
/// Updates fetched and not yet handled, across every chat; polling waits when this many are.
const IN_HAND: usize = 64;
/// How long a graceful stop waits for updates being handled before confirming the rest.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The longest pause between polls after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Every update kind podbrief handles, named in each `getUpdates` (Telegram otherwise keeps
/// whatever narrowing the token's previous program asked for).
pub const ALLOWED_UPDATES: [AllowedUpdate; 4] = [
    AllowedUpdate::Message,
    AllowedUpdate::ChannelPost,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
];

#[derive(Default)]
struct State {
    /// Each chat's updates waiting behind the one being handled; a chat has an entry while
    /// its worker runs.
    queues: HashMap<i64, VecDeque<(Update, OwnedSemaphorePermit)>>,
    /// Ids of updates dispatched and not yet handled.
    in_hand: BTreeSet<u32>,
}

/// Handles updates concurrently across chats, in order within a chat, at most [`IN_HAND`] at a
/// time.
pub struct Dispatcher {
    ctx: Arc<Ctx>,
    state: Mutex<State>,
    room: Arc<Semaphore>,
    /// Counts handled updates, so waiters wake when one finishes.
    handled: watch::Sender<u64>,
}

/// Which chat an update belongs to (its user for updates without a chat).
fn chat_key(update: &Update) -> i64 {
    update
        .chat()
        .map(|c| c.id.0)
        .or_else(|| update.from().map(|u| u.id.0 as i64))
        .unwrap_or(0)
}

impl Dispatcher {
    /// A dispatcher handing updates to the adapter's handler.
    pub(super) fn new(ctx: Arc<Ctx>) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            ctx,
            state: Mutex::new(State::default()),
            room: Arc::new(Semaphore::new(IN_HAND)),
            handled: watch::channel(0).0,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room, then queues `update` behind its chat's earlier updates (starting the
    /// chat's worker when it has none).
    pub async fn dispatch(self: &Arc<Self>, update: Update) {
        let Ok(permit) = self.room.clone().acquire_owned().await else {
            return; // never closed
        };
        let key = chat_key(&update);
        let mut st = self.state();
        st.in_hand.insert(update.id.0);
        match st.queues.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut q) => {
                q.get_mut().push_back((update, permit))
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(VecDeque::from([(update, permit)]));
                tokio::spawn(self.clone().drain(key));
            }
        }
    }

    /// A chat's worker: handles its updates in order until its queue is empty.
    async fn drain(self: Arc<Self>, key: i64) {
        loop {
            let next = {
                let mut st = self.state();
                match st.queues.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some(next) => next,
                    None => {
                        st.queues.remove(&key);
                        return;
                    }
                }
            };
            let (update, permit) = next;
            let id = update.id.0;
            let ctx = self.ctx.clone();
            // Its own task, so a panic in one update's handling ends only that update.
            if let Err(e) = tokio::spawn(async move { on_update(&ctx, update).await }).await {
                warn!(update = id, error = %e, "handling a Telegram update failed");
            }
            self.state().in_hand.remove(&id);
            drop(permit);
            self.handled.send_modify(|n| *n += 1);
        }
    }

    /// The `getUpdates` offset that confirms every handled update and no other: the lowest id
    /// still in hand, or `next` (one past the last dispatched) when none is.
    fn offset(&self, next: u32) -> u32 {
        self.state().in_hand.first().copied().unwrap_or(next)
    }

    /// Waits until no update is in hand, for at most `grace`.
    async fn settle(&self, grace: Duration) {
        let mut handled = self.handled.subscribe();
        let _ = tokio::time::timeout(grace, async {
            while !self.state().in_hand.is_empty() {
                if handled.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// A watch of handled updates: its `changed()` resolves once one is handled after this call.
    fn watch_handled(&self) -> watch::Receiver<u64> {
        self.handled.subscribe()
    }
}

/// Resolves once `stop` is set (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Long polling until `stop` is set; then waits (boundedly) for the updates in hand and
/// confirms the handled ones to Telegram.
pub(super) async fn poll(
    bot: &Bot,
    dispatcher: &Arc<Dispatcher>,
    stop: &mut watch::Receiver<bool>,
) {
    let token = dispatcher.ctx.token.clone();
    let mut next = 0u32;
    let mut failures = 0u32;
    'polling: loop {
        // Watched from before the poll, so an update handled while it runs is not missed.
        let mut handled = dispatcher.watch_handled();
        let request = bot
            .get_updates()
            .offset(dispatcher.offset(next) as i32)
            .timeout(POLL_TIMEOUT.as_secs() as u32)
            .allowed_updates(ALLOWED_UPDATES);
        let answer = tokio::select! {
            _ = stopped(stop) => break,
            r = request.send() => r,
        };
        let updates = match answer {
            Ok(updates) => updates,
            Err(RequestError::Network(e)) if e.is_timeout() => {
                debug!("a Telegram long poll timed out; polling again");
                continue;
            }
            Err(e) => {
                failures += 1;
                let wait = backoff(&e, failures);
                warn!(error = %redact(&e.to_string(), &token), retry_in = ?wait, "Telegram getUpdates failed");
                tokio::select! {
                    _ = stopped(stop) => break,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
        };
        failures = 0;
        let fetched = updates.len();
        let fresh: Vec<Update> = updates.into_iter().filter(|u| u.id.0 >= next).collect();
        if fresh.is_empty() && fetched > 0 {
            // Only updates still being handled came back: poll again once one is handled.
            let _ = tokio::time::timeout(Duration::from_secs(1), handled.changed()).await;
            continue;
        }
        for update in fresh {
            let id = update.id.0;
            tokio::select! {
                _ = stopped(stop) => break 'polling,
                _ = dispatcher.dispatch(update) => next = id + 1,
            }
        }
    }
    dispatcher.settle(STOP_GRACE).await;
    confirm(bot, dispatcher.offset(next), &token).await;
}

/// Tells Telegram that every update below `offset` is handled.
async fn confirm(bot: &Bot, offset: u32, token: &str) {
    if offset == 0 {
        return; // nothing was fetched
    }
    let request = bot
        .get_updates()
        .offset(offset as i32)
        .limit(1)
        .timeout(0)
        .allowed_updates(ALLOWED_UPDATES);
    match request.send().await {
        Ok(_) => info!(offset, "confirmed the handled Telegram updates"),
        Err(e) => {
            warn!(error = %redact(&e.to_string(), token), "could not confirm the handled Telegram updates; they may be answered again")
        }
    }
}

/// How long to wait after the `failures`-th failed poll in a row: Telegram's retry-after, else
/// doubling from one second.
fn backoff(e: &RequestError, failures: u32) -> Duration {
    match e {
        RequestError::RetryAfter(s) => s.duration(),
        _ => (Duration::from_secs(1) * 2u32.saturating_pow(failures.saturating_sub(1)))
            .min(MAX_BACKOFF),
    }
}

/// Hands every update of a webhook listener to the dispatcher until `stop` is set; then waits
/// (boundedly) for the updates in hand.
pub(super) async fn consume<L>(
    mut listener: L,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) where
    L: teloxide::update_listeners::UpdateListener,
    L::Err: std::fmt::Display,
{
    use futures::StreamExt;
    let token = dispatcher.ctx.token.clone();
    {
        let stream = listener.as_stream();
        futures::pin_mut!(stream);
        loop {
            let update = tokio::select! {
                _ = stopped(&mut stop) => break,
                u = stream.next() => u,
            };
            match update {
                Some(Ok(u)) => dispatcher.dispatch(u).await,
                Some(Err(e)) => {
                    warn!(error = %redact(&e.to_string(), &token), "Telegram update failed")
                }
                None => break,
            }
        }
    }
    dispatcher.settle(STOP_GRACE).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_outlasts_a_long_poll_and_errors_back_off() {
        assert!(CLIENT_TIMEOUT > POLL_TIMEOUT);
        let io = RequestError::Io(Arc::new(std::io::Error::other("reset")));
        assert_eq!(backoff(&io, 1), Duration::from_secs(1));
        assert_eq!(backoff(&io, 3), Duration::from_secs(4));
        assert_eq!(backoff(&io, 40), MAX_BACKOFF);
        let limited = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(7));
        assert_eq!(backoff(&limited, 1), Duration::from_secs(7));
    }
}
