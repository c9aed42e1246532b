//! Readiness: which of podbrief's parts are running, as the app reports them, for `/readyz`.
//!
//! The app registers each background part (the scheduler, the outbox, connected platforms); a
//! watched task is marked down when it ends or panics. `/readyz` adds a live database check.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::task::{AbortHandle, JoinHandle};

/// The parts that must be running for podbrief to be ready, and their state.
#[derive(Debug)]
pub struct Health {
    parts: Mutex<BTreeMap<String, Result<(), String>>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Nothing running yet: the scheduler is expected and reported as not started.
    pub fn new() -> Health {
        let mut parts = BTreeMap::new();
        parts.insert("scheduler".to_string(), Err("not started".to_string()));
        Health {
            parts: Mutex::new(parts),
        }
    }

    /// Records the state of a part: `Ok` running, `Err` with what is wrong.
    pub fn set(&self, part: &str, state: Result<(), String>) {
        self.parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(part.to_string(), state);
    }

    /// What is wrong, one line per part that is not running.
    pub fn problems(&self) -> Vec<String> {
        self.parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(k, v)| v.as_ref().err().map(|e| format!("{k}: {e}")))
            .collect()
    }

    /// Marks `part` running while `task` runs, and down when it ends or panics. The returned
    /// handle stands for the task: aborting (or dropping the future of) it aborts the task too.
    pub fn watch(self: &Arc<Self>, part: &'static str, task: JoinHandle<()>) -> JoinHandle<()> {
        self.set(part, Ok(()));
        let me = self.clone();
        let guard = AbortOnDrop(task.abort_handle());
        tokio::spawn(async move {
            let _guard = guard;
            let why = match task.await {
                Ok(()) => "stopped".to_string(),
                Err(e) if e.is_panic() => "crashed (see the log)".to_string(),
                Err(_) => "stopped".to_string(),
            };
            me.set(part, Err(why));
        })
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watched_task_is_up_while_it_runs_and_down_after() {
        let h = Arc::new(Health::new());
        assert_eq!(h.problems(), vec!["scheduler: not started".to_string()]);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let w = h.watch(
            "scheduler",
            tokio::spawn(async move {
                let _ = rx.await;
            }),
        );
        assert!(h.problems().is_empty());
        tx.send(()).unwrap();
        w.await.unwrap();
        assert_eq!(h.problems(), vec!["scheduler: stopped".to_string()]);
    }

    #[tokio::test]
    async fn aborting_the_watcher_aborts_the_task() {
        let h = Arc::new(Health::new());
        let inner = tokio::spawn(std::future::pending::<()>());
        let abort = inner.abort_handle();
        let w = h.watch("outbox", inner);
        w.abort();
        let _ = w.await;
        tokio::task::yield_now().await;
        for _ in 0..100 {
            if abort.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(abort.is_finished());
    }
}
