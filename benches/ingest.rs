//! `cargo bench --bench ingest`: how fast podbrief reads what podcasts publish.
//!
//! 1. Transcript parsing in MB/s per format, over the project's own samples and fixtures
//!    (repeated to a few MB), beside a baseline in the same run: splitting the same bytes into
//!    lines (the least any parser must do).
//! 2. One polling cycle over N feeds (default 2,000; `PODBRIEF_BENCH_FEEDS`) served from loopback
//!    with an injected latency (default 20 ms; `PODBRIEF_BENCH_LATENCY_MS`), most unchanged (304),
//!    beside the floor of the same machine in the same run: the same number of conditional GETs
//!    with plain reqwest at the same concurrency, no parsing or database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::clock::SystemClock;
use podbrief::ingest::transcript::Transcript;

fn transcript_files() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        "samples/silicon-signals/transcripts",
        "samples/green-ledger/transcripts",
        "samples/kitchen-lab/transcripts",
        "tests/fixtures/formats",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn parse_throughput() {
    println!("1. transcript parsing (each input repeated to about 4 MB; best of 5)");
    let mut by_format: std::collections::BTreeMap<&'static str, (usize, Duration, Duration)> =
        Default::default();
    for (_, bytes) in transcript_files() {
        let Ok(first) = Transcript::parse(&bytes) else {
            continue;
        };
        let reps = (4 << 20) / bytes.len().max(1);
        let big: Vec<u8> = if matches!(first.format.name(), "json" | "html") {
            // Formats that do not concatenate: parse the file `reps` times.
            bytes.clone()
        } else {
            let mut v = Vec::with_capacity(bytes.len() * reps);
            for _ in 0..reps {
                v.extend_from_slice(&bytes);
                v.extend_from_slice(b"\n\n");
            }
            v
        };
        let times = if big.len() == bytes.len() { reps } else { 1 };
        let best = |f: &dyn Fn()| {
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let parse = best(&|| {
            for _ in 0..times {
                std::hint::black_box(Transcript::parse(&big).ok());
            }
        });
        let lines = best(&|| {
            for _ in 0..times {
                std::hint::black_box(big.split(|b| *b == b'\n').count());
            }
        });
        let e = by_format.entry(first.format.name()).or_default();
        e.0 += big.len() * times;
        e.1 += parse;
        e.2 += lines;
    }
    for (format, (bytes, parse, lines)) in by_format {
        let mb = bytes as f64 / 1e6;
        println!(
            "   {format:<9} {:>7.1} MB/s parsed   (baseline, splitting lines: {:>7.1} MB/s; ratio {:.1}×)",
            mb / parse.as_secs_f64(),
            mb / lines.as_secs_f64(),
            parse.as_secs_f64() / lines.as_secs_f64()
        );
    }
}

#[derive(Clone)]
struct Server {
    feed: Arc<Vec<u8>>,
    latency: Duration,
    changed_every: usize,
    bodies: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

async fn serve_feed(
    State(s): State<Server>,
    Path(n): Path<usize>,
    headers: HeaderMap,
) -> axum::response::Response {
    tokio::time::sleep(s.latency).await;
    let etag = format!("\"feed-{n}\"");
    let unchanged = n % s.changed_every != 0;
    if unchanged
        && headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str())
    {
        s.not_modified.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    s.bodies.fetch_add(1, Ordering::Relaxed);
    let body = String::from_utf8_lossy(&s.feed).replace("Tidal Talk", &format!("Show {n}"));
    (StatusCode::OK, [("etag", etag)], body).into_response()
}

async fn polling_cycle() {
    let n: usize = std::env::var("PODBRIEF_BENCH_FEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let latency = Duration::from_millis(
        std::env::var("PODBRIEF_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let concurrency = 16;
    // A feed with no transcripts (its episodes use show notes), so the cycle measures polling.
    let feed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds/tides.xml"),
    )
    .unwrap()
    .lines()
    .filter(|l| !l.contains("podcast:transcript"))
    .collect::<Vec<_>>()
    .join("\n");
    let server = Server {
        feed: Arc::new(feed.into_bytes()),
        latency,
        changed_every: 20, // 5% of feeds change between cycles
        bodies: Arc::default(),
        not_modified: Arc::default(),
    };
    let app_router = Router::new()
        .route("/feed/{n}", axum::routing::get(serve_feed))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app_router).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = (0..n).map(|i| format!("{base}/feed/{i}")).collect();
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = {:?}\nconcurrency = {concurrency}\nper_host = {concurrency}\n",
        dir.path().join("bench.db").display(),
        urls
    );
    let config = Config::from_toml(
        &toml,
        std::path::Path::new("bench.toml"),
        dir.path().to_path_buf(),
    )
    .unwrap();
    let app = App::build(config, Arc::new(SystemClock)).await.unwrap();
    let t = Instant::now();
    let first = app.ingest(false).await;
    let first_time = t.elapsed();
    server.bodies.store(0, Ordering::Relaxed);
    let t = Instant::now();
    let cycle = app.ingest(false).await;
    let cycle_time = t.elapsed();
    let (bodies, not_modified) = (
        server.bodies.load(Ordering::Relaxed),
        server.not_modified.load(Ordering::Relaxed),
    );

    // The floor: the same conditional GETs, no parsing, no database.
    let http = reqwest::Client::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (i, u) in urls.iter().enumerate() {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (http, u) = (http.clone(), u.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .get(&u)
                .header("if-none-match", format!("\"feed-{i}\""))
                .send()
                .await
                .unwrap();
            let _ = r.bytes().await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let floor = t.elapsed();
    println!(
        "2. polling {n} feeds on loopback, {latency:?} latency per request, concurrency {concurrency}"
    );
    println!(
        "   first read (every feed parsed and stored): {first_time:.2?} ({} new episodes)",
        first.new_episodes
    );
    println!(
        "   next cycle: {cycle_time:.2?} = {:.0} feeds/s; {not_modified} answered 304, {bodies} re-read ({} failed)",
        n as f64 / cycle_time.as_secs_f64(),
        cycle.feed_errors.len()
    );
    println!(
        "   floor (plain conditional GETs, same concurrency): {floor:.2?}; podbrief/floor = {:.2}×",
        cycle_time.as_secs_f64() / floor.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    parse_throughput();
    polling_cycle().await;
}
