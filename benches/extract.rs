//! A one-hour transcript to insights: time and peak memory of the extractive engine, beside a
//! baseline (parsing and sentence splitting only) measured in the same run.
//!
//! `cargo bench --bench extract`. The transcript is built from the bundled samples (every
//! transcript in `samples/*/transcripts`, repeated with shifted times and speakers until it holds
//! an hour of speech at 150 words a minute); `PODBRIEF_BENCH_TRANSCRIPT=PATH` reads one file
//! instead (e.g. a Changelog transcript), `PODBRIEF_BENCH_RUNS=N` sets the runs (default 5).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use podbrief::extract::sentences::{sentences, turns};
use podbrief::extract::{EpisodeText, ExtractiveEngine};
use podbrief::ingest::transcript::{Segment, Transcript};

/// Peak resident memory so far (VmHWM), in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn sample_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(shows) = std::fs::read_dir(root) {
        for show in shows.flatten() {
            if let Ok(files) = std::fs::read_dir(show.path().join("transcripts")) {
                out.extend(files.flatten().map(|f| f.path()));
            }
        }
    }
    out.sort();
    out
}

/// An hour of speech as one transcript file's text (WebVTT), from the samples.
fn hour_from_samples() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut pieces: Vec<Vec<Segment>> = Vec::new();
    for f in sample_files(&root) {
        if let Ok(bytes) = std::fs::read(&f)
            && let Ok(t) = Transcript::parse(&bytes)
        {
            pieces.push(t.segments);
        }
    }
    let mut vtt = String::from("WEBVTT\n\n");
    let mut words = 0usize;
    let mut t = 0i64;
    let mut copy = 0;
    let clock = |ms: i64| {
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            (ms / 60_000) % 60,
            (ms / 1000) % 60,
            ms % 1000
        )
    };
    while words < 9_000 && !pieces.is_empty() {
        for segs in &pieces {
            for s in segs {
                if words >= 9_000 {
                    break;
                }
                let n = s.text.split_whitespace().count();
                let len = (n as i64 * 400).max(1000);
                let who = format!("{} {}", s.speaker.as_deref().unwrap_or("Host"), copy);
                vtt.push_str(&format!(
                    "{} --> {}\n<v {who}>{}\n\n",
                    clock(t),
                    clock(t + len),
                    s.text
                ));
                t += len;
                words += n;
            }
        }
        copy += 1;
    }
    vtt
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("PODBRIEF_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let (source, bytes) = match std::env::var("PODBRIEF_BENCH_TRANSCRIPT") {
        Ok(p) => (
            p.clone(),
            std::fs::read(&p).expect("reading the transcript"),
        ),
        Err(_) => (
            "samples, repeated to an hour".to_string(),
            hour_from_samples().into_bytes(),
        ),
    };
    let parsed = Transcript::parse(&bytes).expect("the transcript parses");
    let words: usize = parsed
        .segments
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .sum();
    println!(
        "transcript: {source}: {} bytes, {} segments, {words} words (~{:.0} min at 150 wpm)",
        bytes.len(),
        parsed.segments.len(),
        words as f64 / 150.0
    );
    let hwm_start = vm_hwm_kib();

    // Baseline: parse + turns + sentences.
    let mut base = Vec::new();
    let mut nsent = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let t = Transcript::parse(&bytes).expect("parses");
        nsent = sentences(&turns(&t.segments)).len();
        base.push(t0.elapsed());
    }
    let hwm_base = vm_hwm_kib();

    // The engine: parse + extract.
    let engine = ExtractiveEngine::default();
    let mut full = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let t = Transcript::parse(&bytes).expect("parses");
        let ep = EpisodeText {
            podcast: String::new(),
            title: "bench".into(),
            segments: t.segments,
            marks: Default::default(),
            notes: None,
        };
        n = engine.extract_sync(&ep).len();
        full.push(t0.elapsed());
    }
    let hwm_full = vm_hwm_kib();
    let (b, f) = (median(base), median(full));
    println!("runs: {runs} (median)");
    println!("baseline  parse + sentences: {b:>10.2?}  ({nsent} sentences)");
    println!("extractive parse + insights: {f:>10.2?}  ({n} insights)");
    println!(
        "ratio engine/baseline: {:.1}x",
        f.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    let kib = |v: Option<u64>| {
        v.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or("n/a".into())
    };
    println!(
        "peak memory (VmHWM): at start {}, after baseline {}, after engine {}",
        kib(hwm_start),
        kib(hwm_base),
        kib(hwm_full)
    );
}
