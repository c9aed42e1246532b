//! What podbrief is doing, counted: atomic counters and small fixed-bucket histograms, rendered
//! in the Prometheus text format by `/metrics`.
//!
//! One [`Metrics`] belongs to one `App`; the places that do the work (ingest, the outbox, lookups)
//! add to it with one call each. Nothing here blocks or allocates on the hot path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::core::model::Platform;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with fixed buckets (cumulative counts are computed when rendered).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Counters of one chat platform's sends.
#[derive(Debug, Default)]
struct PlatformCounters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    rate_limited: AtomicU64,
    send_latency: Histogram,
}

/// What happened to one attempt to send a brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// The brief was sent.
    Sent,
    /// The brief failed for good (attempts used up, or the chat is gone).
    Failed,
    /// The attempt failed and the brief will be tried again.
    Retried,
}

/// Picks one counter of a platform's counters.
type CounterOf = fn(&PlatformCounters) -> &AtomicU64;

const PLATFORMS: [Platform; 3] = [Platform::Console, Platform::Telegram, Platform::Discord];

fn slot(p: Platform) -> usize {
    match p {
        Platform::Console => 0,
        Platform::Telegram => 1,
        Platform::Discord => 2,
    }
}

/// Why the LLM engine handed an episode to the extractive engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmFallback {
    /// The endpoint failed (connection, timeout, error status).
    Failed,
    /// The answer could not be read (not JSON after one more try, HTML, too large).
    Unreadable,
    /// The daily token budget was spent.
    Budget,
    /// No insight's quote was found in the transcript.
    Ungrounded,
}

impl LlmFallback {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [LlmFallback; 4] = [
        LlmFallback::Failed,
        LlmFallback::Unreadable,
        LlmFallback::Budget,
        LlmFallback::Ungrounded,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            LlmFallback::Failed => "failed",
            LlmFallback::Unreadable => "unreadable",
            LlmFallback::Budget => "budget",
            LlmFallback::Ungrounded => "ungrounded",
        }
    }
}

/// podbrief's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    llm_tokens: AtomicU64,
    llm_fallbacks: [AtomicU64; 4],
    feeds_polled: AtomicU64,
    feeds_failed: AtomicU64,
    episodes_ingested: AtomicU64,
    insights_ingested: AtomicU64,
    platforms: [PlatformCounters; 3],
    lookup_latency: Histogram,
}

/// Records a lookup's latency when dropped (see [`Metrics::lookup_timer`]).
#[must_use = "the timer records when it is dropped"]
pub struct LookupTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl Drop for LookupTimer<'_> {
    fn drop(&mut self) {
        self.metrics.lookup_latency.observe(self.started.elapsed());
    }
}

impl Metrics {
    /// A feed was polled; `ok` is false when it failed.
    pub fn feed_polled(&self, ok: bool) {
        self.feeds_polled.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.feeds_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An episode was processed, yielding `insights` new insights.
    pub fn episode_ingested(&self, insights: usize) {
        self.episodes_ingested.fetch_add(1, Ordering::Relaxed);
        self.insights_ingested
            .fetch_add(insights as u64, Ordering::Relaxed);
    }

    /// One send of a brief to `platform` took `took`; `rate_limited` when the platform answered
    /// 429 ("retry after").
    pub fn send_attempt(&self, platform: Platform, took: Duration, rate_limited: bool) {
        let c = &self.platforms[slot(platform)];
        c.send_latency.observe(took);
        if rate_limited {
            c.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A brief to `platform` was sent, failed for good, or will be retried.
    pub fn delivery(&self, platform: Platform, event: DeliveryEvent) {
        let c = &self.platforms[slot(platform)];
        let n = match event {
            DeliveryEvent::Sent => &c.sent,
            DeliveryEvent::Failed => &c.failed,
            DeliveryEvent::Retried => &c.retried,
        };
        n.fetch_add(1, Ordering::Relaxed);
    }

    /// The LLM endpoint reported (or was estimated to use) `tokens` for one request.
    pub fn llm_tokens(&self, tokens: u64) {
        self.llm_tokens.fetch_add(tokens, Ordering::Relaxed);
    }

    /// The LLM engine fell back to the extractive engine for one episode.
    pub fn llm_fallback(&self, why: LlmFallback) {
        self.llm_fallbacks[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Episodes the LLM engine handed to the extractive engine for `why`.
    pub fn llm_fallbacks(&self, why: LlmFallback) -> u64 {
        self.llm_fallbacks[why as usize].load(Ordering::Relaxed)
    }

    /// Times a lookup until the returned guard is dropped.
    pub fn lookup_timer(&self) -> LookupTimer<'_> {
        LookupTimer {
            metrics: self,
            started: Instant::now(),
        }
    }

    /// Briefs sent to `platform` so far.
    pub fn sent(&self, platform: Platform) -> u64 {
        self.platforms[slot(platform)].sent.load(Ordering::Relaxed)
    }

    /// Lookups timed so far.
    pub fn lookups(&self) -> u64 {
        self.lookup_latency.count()
    }

    /// The LLM engine's tokens and fallbacks.
    fn render_llm(&self, out: &mut String) {
        let name = "podbrief_llm_tokens_total";
        let _ = writeln!(
            out,
            "# HELP {name} Tokens the LLM engine used (prompt and answer, as the endpoint reported them).\n# TYPE {name} counter\n{name} {}",
            self.llm_tokens.load(Ordering::Relaxed)
        );
        let name = "podbrief_llm_fallbacks_total";
        let _ = writeln!(
            out,
            "# HELP {name} Episodes the LLM engine handed to the extractive engine.\n# TYPE {name} counter"
        );
        for why in LlmFallback::ALL {
            let v = self.llm_fallbacks[why as usize].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {v}", why.as_str());
        }
    }

    /// Everything in the Prometheus text format (version 0.0.4). `scheduler_lag` is how late the
    /// oldest pending delivery is, in seconds (0 when none is late).
    pub fn render(&self, scheduler_lag: f64) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "podbrief_feeds_polled_total",
            "Feed polls, successful or not.",
            load(&self.feeds_polled),
        );
        counter(
            "podbrief_feeds_failed_total",
            "Feed polls that failed.",
            load(&self.feeds_failed),
        );
        counter(
            "podbrief_episodes_ingested_total",
            "Episodes whose transcript was read and insights extracted.",
            load(&self.episodes_ingested),
        );
        counter(
            "podbrief_insights_ingested_total",
            "Insights stored.",
            load(&self.insights_ingested),
        );
        let per_platform: [(&str, &str, CounterOf); 4] = [
            ("podbrief_deliveries_sent_total", "Briefs sent.", |c| {
                &c.sent
            }),
            (
                "podbrief_deliveries_failed_total",
                "Briefs that failed for good.",
                |c| &c.failed,
            ),
            (
                "podbrief_deliveries_retried_total",
                "Brief sends that failed and were retried.",
                |c| &c.retried,
            ),
            (
                "podbrief_rate_limited_total",
                "429 (retry after) answers received while sending briefs.",
                |c| &c.rate_limited,
            ),
        ];
        for (name, help, field) in per_platform {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for p in PLATFORMS {
                let v = load(field(&self.platforms[slot(p)]));
                let _ = writeln!(out, "{name}{{platform=\"{}\"}} {v}", p.as_str());
            }
        }
        let name = "podbrief_send_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time one brief send took.\n# TYPE {name} histogram"
        );
        for p in PLATFORMS {
            self.platforms[slot(p)].send_latency.render(
                &mut out,
                name,
                &format!("platform=\"{}\"", p.as_str()),
            );
        }
        let name = "podbrief_lookup_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time a lookup (related to X, more like this) took.\n# TYPE {name} histogram"
        );
        self.lookup_latency.render(&mut out, name, "");
        self.render_llm(&mut out);
        let name = "podbrief_scheduler_lag_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Now minus the due time of the oldest pending delivery (0 when none is late).\n# TYPE {name} gauge\n{name} {}",
            scheduler_lag.max(0.0)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_prometheus_text_format() {
        let m = Metrics::default();
        m.feed_polled(true);
        m.feed_polled(false);
        m.episode_ingested(4);
        m.delivery(Platform::Telegram, DeliveryEvent::Sent);
        m.delivery(Platform::Telegram, DeliveryEvent::Retried);
        m.send_attempt(Platform::Telegram, Duration::from_millis(30), true);
        drop(m.lookup_timer());
        let text = m.render(12.5);
        assert!(text.contains("podbrief_feeds_polled_total 2\n"), "{text}");
        assert!(text.contains("podbrief_feeds_failed_total 1\n"));
        assert!(text.contains("podbrief_insights_ingested_total 4\n"));
        assert!(text.contains("podbrief_deliveries_sent_total{platform=\"telegram\"} 1\n"));
        assert!(text.contains("podbrief_deliveries_sent_total{platform=\"discord\"} 0\n"));
        assert!(text.contains("podbrief_deliveries_retried_total{platform=\"telegram\"} 1\n"));
        assert!(text.contains("podbrief_rate_limited_total{platform=\"telegram\"} 1\n"));
        assert!(text.contains(
            "podbrief_send_latency_seconds_bucket{platform=\"telegram\",le=\"0.025\"} 0\n"
        ));
        assert!(text.contains(
            "podbrief_send_latency_seconds_bucket{platform=\"telegram\",le=\"0.05\"} 1\n"
        ));
        assert!(text.contains("podbrief_send_latency_seconds_count{platform=\"telegram\"} 1\n"));
        assert!(text.contains("podbrief_lookup_latency_seconds_count 1\n"));
        assert!(text.contains("podbrief_scheduler_lag_seconds 12.5\n"));
        // Every sample line is `name{labels} value` with a numeric value.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let v = line.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok(), "{line}");
        }
    }
}
