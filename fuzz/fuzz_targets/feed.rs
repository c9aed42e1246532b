//! Feed bytes (RSS, Atom, JSON Feed, anything): parsed or refused with an error, never a panic
//! that escapes `parse_feed`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `parse_feed` catches feed-rs's own panics (it has some) and reads the feed again without
    // the values that cause them; libfuzzer-sys's hook would abort on those caught panics, so
    // this target keeps the default hook quiet and lets only an escaping panic crash (a panic
    // unwinding into libFuzzer aborts).
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = podbrief::ingest::feed::parse_feed(data, "fuzz");
});
