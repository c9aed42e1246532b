//! Podcasting 2.0 JSON chapters: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = podbrief::ingest::chapters::parse_json_chapters(data);
});
