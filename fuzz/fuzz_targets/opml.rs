//! OPML subscription lists: feed URLs or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = podbrief::ingest::opml::parse_opml(data);
});
