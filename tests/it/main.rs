//! podbrief's integration tests: one binary, user stories through the `TestApp` harness.

mod architecture;
mod brief;
mod chapters;
mod cli;
mod console;
mod delivery;
mod discord;
mod extract;
mod feeds;
mod hostile;
mod ingest;
mod llm_takeaways;
mod lookups;
mod postgres;
mod robustness;
mod search;
mod stt;
mod support;
mod telegram;
mod transcripts;
mod web;
