//! Feed bytes (RSS, Atom, JSON Feed, anything): parsed or refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = podbrief::ingest::feed::parse_feed(data, "fuzz");
});
