//! podbrief's integration tests: one binary, user stories through the `TestApp` harness.

mod brief;
mod cli;
mod console;
mod ingest;
mod lookups;
mod support;
mod telegram;
mod transcripts;
