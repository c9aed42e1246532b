//! Rate limiting shared by every send to a platform: sliding windows, one overall and one per
//! key (a chat, a group, a route), so podbrief stays under a platform's limits on purpose instead
//! of learning them from 429s. The overall limit is also paced (GCRA): sends are spread evenly
//! with a burst of at most a tenth of the window, so a stall (a busy machine, a slow network) is
//! not followed by a catch-up burst that the platform, counting arrivals, would see as too many.

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
    /// When windows of keys idle for two minutes were last dropped.
    pruned_at: Option<Instant>,
    /// The overall pacing's theoretical arrival time of the next send.
    paced_until: Option<Instant>,
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

    /// Waits for room in the overall window and in each `(key, limit)` window, then takes it;
    /// returns the moment it was taken (for [`RateLimiter::settle`]).
    pub async fn acquire(&self, keys: &[(&str, Limit)]) -> Instant {
        loop {
            let wait = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let mut wait = st
                    .blocked_until
                    .filter(|b| *b > now)
                    .map(|b| b - now)
                    .unwrap_or_default();
                // Pacing: one send per `interval`, up to `tolerance` ahead of schedule.
                let interval = self.global.per / self.global.count.max(1);
                let tolerance = interval * (self.global.count / 10).max(1);
                let due = st.paced_until.unwrap_or(now).max(now);
                if due > now + tolerance {
                    wait = wait.max(due - now - tolerance);
                }
                let all = std::iter::once((GLOBAL, self.global)).chain(keys.iter().copied());
                for (key, limit) in all.clone() {
                    let Some(w) = st.windows.get_mut(key) else {
                        continue;
                    };
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
                    st.paced_until = Some(due + interval);
                    let taken = now;
                    for (key, _) in all {
                        match st.windows.get_mut(key) {
                            Some(w) => w.push_back(now),
                            None => {
                                st.windows.insert(key.to_string(), VecDeque::from([now]));
                            }
                        }
                    }
                    // A fan-out touches a window per chat: drop idle ones now and then (at most
                    // every 10 s, so a large map is not scanned on every send).
                    let idle = Duration::from_secs(120);
                    if st.windows.len() > 10_000
                        && st
                            .pruned_at
                            .is_none_or(|p| now.duration_since(p) >= Duration::from_secs(10))
                    {
                        st.windows
                            .retain(|_, w| w.back().is_some_and(|t| now.duration_since(*t) < idle));
                        st.pruned_at = Some(now);
                    }
                    return taken;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Moves a send taken at `taken` (from [`RateLimiter::acquire`] with the same keys) to now,
    /// when its response has arrived: the platform counts a send when it arrives, which can be
    /// well after the slot was taken (a busy machine, a slow network), so the send keeps its
    /// place in every window until then rather than leaving room for a burst.
    pub fn settle(&self, keys: &[(&str, Limit)], taken: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for key in std::iter::once(GLOBAL).chain(keys.iter().map(|(k, _)| *k)) {
            let Some(w) = st.windows.get_mut(key) else {
                continue;
            };
            // The stamp is usually near the back; the window stays in time order.
            if let Some(i) = w.iter().rposition(|t| *t == taken) {
                w.remove(i);
                let at = w.iter().rposition(|t| *t <= now).map_or(0, |j| j + 1);
                w.insert(at, now);
            }
        }
    }

    /// Holds every send for `d` (a platform-wide retry-after).
    pub fn block_for(&self, d: Duration) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + d;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        // After the block, start pacing afresh rather than bursting to catch up.
        st.paced_until = Some(until);
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

    /// Telegram's real shape (30/s overall, 1/s per chat, 20/min per group), on tokio's paused
    /// clock: a group whose 25 forum topics subscribed, beside 60 private chats.
    #[tokio::test(start_paused = true)]
    async fn telegram_shape_holds_for_groups_with_many_topics() {
        let limiter = std::sync::Arc::new(RateLimiter::new(Limit::per_second(30)));
        let (chat, group) = (Limit::per_second(1), Limit::per_minute(20));
        let mut tasks = Vec::new();
        for i in 0..85 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let chat_id = if i < 25 {
                    "-100".to_string()
                } else {
                    i.to_string()
                };
                let group_key = format!("group:{chat_id}");
                let mut keys = vec![(chat_id.as_str(), chat)];
                if i < 25 {
                    keys.push((group_key.as_str(), group));
                }
                limiter.acquire(&keys).await;
                (i < 25, Instant::now())
            }));
        }
        let mut sends = Vec::new();
        for t in tasks {
            sends.push(t.await.unwrap());
        }
        sends.sort_by_key(|s| s.1);
        let in_window = |from: Instant, per: Duration, group_only: bool| {
            sends
                .iter()
                .filter(|(g, t)| (!group_only || *g) && *t >= from && *t - from < per)
                .count()
        };
        for (_, t) in &sends {
            assert!(in_window(*t, Duration::from_secs(1), false) <= 30);
            assert!(in_window(*t, Duration::from_secs(1), true) <= 1);
            assert!(in_window(*t, Duration::from_secs(60), true) <= 20);
        }
        let groups: Vec<Instant> = sends.iter().filter(|s| s.0).map(|s| s.1).collect();
        assert_eq!(groups.len(), 25);
        // The 21st group send waits for the minute window; private chats were not held up.
        assert!(groups[20] - groups[0] >= Duration::from_secs(60));
        let private_done = sends.iter().filter(|s| !s.0).map(|s| s.1).max().unwrap();
        assert!(private_done - sends[0].1 < Duration::from_secs(5));
    }

    /// After a stall, the overall limit does not allow a catch-up burst: no 100 ms holds more
    /// than a tenth of the window plus its even share.
    #[tokio::test(start_paused = true)]
    async fn overall_sends_are_paced_without_catch_up_bursts() {
        let limiter = std::sync::Arc::new(RateLimiter::new(Limit::per_second(1000)));
        limiter.acquire(&[]).await;
        // Idle for half a second: a sliding window alone would now allow ~1,000 at once.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..600 {
            limiter.acquire(&[]).await;
            times.push(Instant::now() - start);
        }
        let first_100ms = times
            .iter()
            .filter(|t| **t < Duration::from_millis(100))
            .count();
        assert!(
            first_100ms <= 100 + 100 + 1,
            "{first_100ms} sends in 100 ms"
        );
        // Still at full rate: 600 sends take about 0.5 s (the burst, then one per ms).
        assert!(times[599] < Duration::from_millis(600), "{:?}", times[599]);
    }

    /// A settled send counts from its response, not from when its slot was taken.
    #[tokio::test(start_paused = true)]
    async fn a_settled_send_holds_its_place_until_its_response() {
        let ms = Duration::from_millis;
        let l = RateLimiter::new(Limit {
            count: 2,
            per: ms(200),
        });
        let start = Instant::now();
        l.acquire(&[]).await;
        let slow = l.acquire(&[]).await;
        // Its response comes 150 ms later.
        tokio::time::sleep(ms(150)).await;
        l.settle(&[], slow);
        tokio::time::sleep(ms(50)).await;
        l.acquire(&[]).await;
        assert!(
            start.elapsed() < ms(210),
            "the first send's slot is free at 200 ms"
        );
        l.acquire(&[]).await;
        assert!(
            start.elapsed() >= ms(350),
            "the slow send counts until 150 + 200 ms: {:?}",
            start.elapsed()
        );
    }
}
