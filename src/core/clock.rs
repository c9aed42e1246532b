//! Time as the rest of podbrief sees it: the system clock in production, a manual clock in tests.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A source of the current time that timers can sleep on.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Returns once `now() >= at`.
    async fn sleep_until(&self, at: DateTime<Utc>);
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        // Sleep in bounded steps so a changed wall clock (NTP, suspend) is noticed.
        loop {
            let left = at - Utc::now();
            let Ok(left) = left.to_std() else { return };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(std::time::Duration::from_secs(30))).await;
        }
    }
}

/// A clock that only moves when told to; sleepers wake when it passes their instant.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    tick: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
            tick: watch::channel(start).0,
        }
    }

    /// Moves the clock to `to` (never backwards) and wakes the sleepers that are due.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if to > *now {
            *now = to;
            self.tick.send_replace(to);
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let to = self.now() + by;
        self.set(to);
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut rx = self.tick.subscribe();
        while *rx.borrow_and_update() < at {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}
