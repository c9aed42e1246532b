//! podbrief: a self-hosted podcast-insights bot.
//!
//! It reads new podcast episodes (feeds and their transcripts), turns them into short insights,
//! posts the top insights every day to the chats that subscribed, and answers "related to X".
//! See `ARCHITECTURE.md` for the map of the code.

#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod deliver;
pub mod doctor;
pub mod extract;
pub mod ingest;
pub mod metrics;
pub mod ports;
pub mod search;
pub mod store;
pub mod web;
