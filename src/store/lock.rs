//! [`InstanceLock`]: work only one podbrief instance on a database may do at a time.

use async_trait::async_trait;

/// Something only one podbrief instance on a database may do at a time (Telegram long polling),
/// held until dropped. With PostgreSQL it is an advisory lock on a connection of its own, so it
/// is released when its holder dies; SQLite (one instance per database file) always grants it.
pub struct InstanceLock {
    holder: Option<Box<dyn LockHolder>>,
}

/// What keeps an [`InstanceLock`] held (a backend's connection).
#[async_trait]
pub trait LockHolder: Send {
    /// Whether the lock is still held (its connection still answers).
    async fn still_held(&mut self) -> bool;
}

impl InstanceLock {
    /// A lock that cannot be lost (a single-instance backend).
    pub fn granted() -> InstanceLock {
        InstanceLock { holder: None }
    }

    /// A lock kept by `holder`.
    pub fn held_by(holder: Box<dyn LockHolder>) -> InstanceLock {
        InstanceLock {
            holder: Some(holder),
        }
    }

    /// Resolves when the lock is lost (checked every `every`); never for a lock that cannot be.
    pub async fn lost(&mut self, every: std::time::Duration) {
        let Some(holder) = self.holder.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(every).await;
            if !holder.still_held().await {
                return;
            }
        }
    }
}

impl std::fmt::Debug for InstanceLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceLock")
            .field("losable", &self.holder.is_some())
            .finish()
    }
}
