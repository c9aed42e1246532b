//! The bot core: platform-neutral types, command parsing, the handler that answers commands, the
//! brief ranking and schedule math. Nothing here knows a chat platform or a database backend.

pub mod brief;
pub mod clock;
pub mod command;
pub mod handler;
pub mod model;
pub mod sanitize;
pub mod schedule;
pub mod text;

pub use handler::{Core, Settings, UserContext};
