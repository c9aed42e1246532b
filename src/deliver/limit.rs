//! Rate limiting shared by every send to a platform: sliding windows, one overall and one per
//! key (a chat, a group, a route), so podbrief stays under a platform's limits on purpose instead
//! of learning them from 429s.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// At most `count` sends per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Sends allowed in a window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

impl Limit {
    /// `count` per second.
    pub fn per_second(count: u32) -> Limit {
        Limit {
            count,
            per: Duration::from_secs(1),
        }
    }

    /// `count` per minute.
    pub fn per_minute(count: u32) -> Limit {
        Limit {
            count,
            per: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    windows: HashMap<String, VecDeque<Instant>>,
    blocked_until: Option<Instant>,
}

/// A limiter: `acquire` waits until a send fits every window it belongs to, then records it.
#[derive(Debug)]
pub struct RateLimiter {
    global: Limit,
    state: Mutex<State>,
}

const GLOBAL: &str = "\u{0}global";

impl RateLimiter {
    /// A limiter with an overall limit.
    pub fn new(global: Limit) -> RateLimiter {
        RateLimiter {
            global,
            state: Mutex::new(State::default()),
        }
    }

    /// Waits for room in the overall window and in each `(key, limit)` window, then takes it.
    pub async fn acquire(&self, keys: &[(&str, Limit)]) {
        loop {
            let wait = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let mut wait = st
                    .blocked_until
                    .filter(|b| *b > now)
                    .map(|b| b - now)
                    .unwrap_or_default();
                let all = std::iter::once((GLOBAL, self.global)).chain(keys.iter().copied());
                for (key, limit) in all.clone() {
                    let w = st.windows.entry(key.to_string()).or_default();
                    while w
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= limit.per)
                    {
                        w.pop_front();
                    }
                    if w.len() >= limit.count as usize
                        && let Some(oldest) = w.front()
                    {
                        wait = wait.max(limit.per - now.duration_since(*oldest));
                    }
                }
                if wait.is_zero() {
                    for (key, _) in all {
                        st.windows
                            .entry(key.to_string())
                            .or_default()
                            .push_back(now);
                    }
                    if st.windows.len() > 10_000 {
                        st.windows.retain(|_, w| {
                            w.back()
                                .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(120))
                        });
                    }
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds every send for `d` (a platform-wide retry-after).
    pub fn block_for(&self, d: Duration) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + d;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Waits are lower bounds: a sleep never ends early, so these hold on any machine.
    #[tokio::test]
    async fn sends_are_spaced_to_fit_every_window() {
        let ms = Duration::from_millis;
        let l = RateLimiter::new(Limit {
            count: 3,
            per: ms(200),
        });
        let start = Instant::now();
        for _ in 0..4 {
            l.acquire(&[]).await;
        }
        assert!(
            start.elapsed() >= ms(200),
            "the 4th send waits for the window"
        );
        // One chat at 1 per 200 ms: the second send to it waits.
        let chat = Limit {
            count: 1,
            per: ms(200),
        };
        l.acquire(&[("chat", chat)]).await;
        let t = Instant::now();
        l.acquire(&[("chat", chat)]).await;
        assert!(t.elapsed() >= ms(150), "{:?}", t.elapsed());
        l.block_for(ms(300));
        let t = Instant::now();
        l.acquire(&[]).await;
        assert!(t.elapsed() >= ms(300));
    }
}
