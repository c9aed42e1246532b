//! Adapters translate between a chat platform and the core: platform events become
//! [`Command`](crate::core::command::Command)s, [`Reply`](crate::core::model::Reply)s become
//! platform messages. Adapters know the core, never each other.

use std::sync::Arc;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::core::model::Platform;
use crate::deliver::Sender;

pub mod console;
pub mod discord;
pub mod telegram;

/// A connected platform, as [`App::start`](crate::app::App::start) wires it.
pub struct Connection {
    /// Which platform.
    pub platform: Platform,
    /// Sends briefs to its chats.
    pub sender: Arc<dyn Sender>,
    /// Routes to mount on the HTTP server (webhooks, interaction endpoints).
    pub routes: Option<Router>,
    /// Its background tasks (polling, gateway), aborted at shutdown.
    pub tasks: Vec<JoinHandle<()>>,
    /// A task that stops by itself once its flag is set (finishing what it has in hand), which
    /// a graceful shutdown sets and then waits for.
    pub stoppable: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}
