//! Transcript bytes in any format (sniffed), and speech-to-text answers: parsed or refused,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podbrief::ingest::transcript::Transcript;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Transcript::parse(data) {
        let _ = t.turns();
        let _ = t.plain_text();
    }
    let _ = podbrief::ingest::stt::parse_answer(data);
});
