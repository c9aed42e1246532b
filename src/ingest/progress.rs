//! Progress of an ingest pass, phase by phase (feeds, transcripts, extraction): bars on a
//! terminal, plain log lines otherwise (a start line, a line at every tenth of a long phase, and
//! a closing line). A phase with nothing to do says nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// How an ingest pass shows its progress.
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Bars (on stderr) when `bars`, log lines otherwise.
    pub fn new(bars: bool) -> Progress {
        Progress {
            bars: bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Starts a phase of `len` steps named `name`.
    pub fn phase(&self, name: &'static str, len: u64) -> Phase {
        let bar = self.bars.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(len));
            if let Ok(style) = ProgressStyle::with_template(&format!(
                "{{spinner}} {name:>11} [{{bar:30}}] {{pos}}/{{len}} {{wide_msg}}"
            )) {
                b.set_style(style);
            }
            b
        });
        if bar.is_none() && len > 0 {
            info!(phase = name, total = len, "ingest phase started");
        }
        Phase {
            name,
            len,
            bar,
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }
}

/// One phase's progress.
pub struct Phase {
    name: &'static str,
    len: u64,
    bar: Option<ProgressBar>,
    done: AtomicU64,
    finished: AtomicBool,
}

impl Phase {
    /// One more step done; the last step finishes the phase.
    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(b) => b.inc(1),
            None => {
                // Long phases report each tenth; the last step is reported by `finish`.
                let tenth = self.len / 10;
                if self.len >= 20 && done < self.len && done.is_multiple_of(tenth) {
                    info!(phase = self.name, done, total = self.len, "ingest progress");
                }
            }
        }
        if done == self.len {
            self.finish();
        }
    }

    /// What the phase is working on (shown beside the bar).
    pub fn set_message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    /// Ends the phase (once): the bar is cleared, or a closing line is logged.
    pub fn finish(&self) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None if self.len > 0 => info!(
                phase = self.name,
                done = self.done.load(Ordering::Relaxed),
                total = self.len,
                "ingest phase finished"
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_count_with_or_without_bars() {
        for bars in [false, true] {
            let p = Progress::new(bars);
            let a = p.phase("transcripts", 25);
            let b = p.phase("extraction", 0);
            for _ in 0..25 {
                a.inc();
            }
            a.set_message("an episode");
            assert_eq!(a.done.load(Ordering::Relaxed), 25);
            a.finish();
            b.finish();
        }
    }
}
