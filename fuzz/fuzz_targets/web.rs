//! The site's path and query parsing: a brief's day (and its window in time, at the edges of
//! chrono's range), an insight's id, a topic and its page. Never a panic. The first 16 bytes set
//! "now" and the lookback; the rest is `PATH?QUERY`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podbrief::web::params;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (clock, rest) = data.split_at(16);
    let secs = i64::from_le_bytes(clock[..8].try_into().unwrap());
    let lookback = i64::from_le_bytes(clock[8..].try_into().unwrap());
    let now = chrono::DateTime::from_timestamp(secs % 400_000_000_000, 0).unwrap_or_default();
    let lookback = chrono::Duration::try_seconds(lookback / 1000).unwrap_or_default();
    let text = String::from_utf8_lossy(rest);
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (&*text, None),
    };
    for segment in path.split('/') {
        if let Some(day) = params::brief_day(segment, now.date_naive()) {
            let _ = params::brief_window(day, now, lookback);
            let _ = day.pred_opt();
        }
        let _ = params::insight_id(segment);
        let topic = podbrief::core::text::normalize_topic(segment);
        let _ = podbrief::web::pages::topic_path(&topic);
    }
    let _ = params::page_of_query(query);
});
