//! A daily allowance (bytes, tokens, anything countable) per UTC day, kept in a small JSON file
//! so a restart does not start the day's count again.
//!
//! The file holds `{"day": "YYYY-MM-DD", "used": N}` and is replaced atomically (written beside
//! it, then renamed) after every change. Without a file the count lives in memory only. A file
//! that cannot be read or written is logged and the count goes on in memory; a file that is not
//! valid counts as empty (logged), so a broken file never stops ingest.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tracing::warn;

/// The allowance is spent for today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the daily budget of {limit} is spent ({used} used today)")]
pub struct Spent {
    /// The daily limit.
    pub limit: u64,
    /// Counted today so far.
    pub used: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Usage {
    day: Option<NaiveDate>,
    used: u64,
}

/// A per-UTC-day counter with a limit (0 = no limit), optionally persisted.
#[derive(Debug)]
pub struct DailyBudget {
    limit: u64,
    path: Option<PathBuf>,
    usage: Mutex<Usage>,
}

impl DailyBudget {
    /// A budget of `limit` a day (0 = no limit), read from and written to `path` if given.
    pub fn open(limit: u64, path: Option<PathBuf>) -> DailyBudget {
        let usage = path.as_deref().map(read_usage).unwrap_or_default();
        DailyBudget {
            limit,
            path,
            usage: Mutex::new(usage),
        }
    }

    /// The daily limit (0 = no limit).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// What `today` has counted so far.
    pub fn used(&self, today: NaiveDate) -> u64 {
        let u = self.lock();
        if u.day == Some(today) { u.used } else { 0 }
    }

    /// Whether anything is left for `today`.
    pub fn has_room(&self, today: NaiveDate) -> bool {
        self.limit == 0 || self.used(today) < self.limit
    }

    /// Counts `amount` against `today`, or refuses (counting nothing) if it would exceed the
    /// limit.
    pub fn spend(&self, today: NaiveDate, amount: u64) -> Result<(), Spent> {
        let mut u = self.lock();
        if u.day != Some(today) {
            *u = Usage {
                day: Some(today),
                used: 0,
            };
        }
        if self.limit > 0 && u.used.saturating_add(amount) > self.limit {
            return Err(Spent {
                limit: self.limit,
                used: u.used,
            });
        }
        u.used = u.used.saturating_add(amount);
        self.save(*u);
        Ok(())
    }

    /// Gives back `amount` spent on `today` (a request that failed before it was served).
    pub fn refund(&self, today: NaiveDate, amount: u64) {
        let mut u = self.lock();
        if u.day == Some(today) {
            u.used = u.used.saturating_sub(amount);
            self.save(*u);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, usage: Usage) {
        let Some(path) = &self.path else { return };
        if let Err(e) = write_usage(path, usage) {
            warn!(file = %path.display(), error = %e, "cannot record the daily budget; counting in memory");
        }
    }
}

fn read_usage(path: &Path) -> Usage {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            warn!(file = %path.display(), error = %e, "daily budget file is not valid; starting at 0");
            Usage::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Usage::default(),
        Err(e) => {
            warn!(file = %path.display(), error = %e, "cannot read the daily budget file; starting at 0");
            Usage::default()
        }
    }
}

fn write_usage(path: &Path, usage: Usage) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec(&usage).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_limit_holds_and_a_new_day_starts_at_zero() {
        let b = DailyBudget::open(100, None);
        let d = day("2026-11-27");
        assert!(b.spend(d, 60).is_ok());
        assert_eq!(
            b.spend(d, 50),
            Err(Spent {
                limit: 100,
                used: 60
            })
        );
        assert_eq!(b.used(d), 60);
        assert!(b.has_room(d));
        b.refund(d, 10);
        assert!(b.spend(d, 50).is_ok());
        assert!(!b.has_room(d));
        let next = day("2026-11-28");
        assert_eq!(b.used(next), 0);
        assert!(b.spend(next, 100).is_ok());
        // No limit.
        let free = DailyBudget::open(0, None);
        assert!(free.spend(d, u64::MAX).is_ok() && free.spend(d, 1).is_ok());
    }

    #[test]
    fn a_restart_keeps_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/usage.json");
        let d = day("2026-11-27");
        DailyBudget::open(100, Some(path.clone()))
            .spend(d, 70)
            .unwrap();
        let again = DailyBudget::open(100, Some(path.clone()));
        assert_eq!(again.used(d), 70);
        assert!(again.spend(d, 40).is_err());
        // A broken file counts as empty and is replaced at the next change.
        std::fs::write(&path, "not json").unwrap();
        let broken = DailyBudget::open(100, Some(path.clone()));
        assert_eq!(broken.used(d), 0);
        broken.spend(d, 5).unwrap();
        assert_eq!(DailyBudget::open(100, Some(path)).used(d), 5);
    }
}
