//! The bot core: platform-neutral types, command parsing, the handler that answers commands, the
//! brief ranking and schedule math. Nothing here knows a chat platform, a database backend, the
//! config, the search index or the ingest side: the core owns the traits it needs of them
//! ([`ports`]) and its [`Settings`], and `app.rs` wires them (checked by `tests/it/architecture.rs`).

pub mod brief;
pub mod clock;
pub mod command;
pub mod handler;
pub mod model;
pub mod ports;
pub mod sanitize;
pub mod schedule;
pub mod text;

pub use handler::{Core, Settings, UserContext};
