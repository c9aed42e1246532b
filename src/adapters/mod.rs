//! Adapters translate between a chat platform and the core: platform events become
//! [`Command`](crate::core::command::Command)s, [`Reply`](crate::core::model::Reply)s become
//! platform messages. Adapters know the core, never each other.

pub mod console;
