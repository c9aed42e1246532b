//! `cargo bench --bench chats`: how fast Telegram users get their lookups answered when many ask
//! at once.
//!
//! podbrief runs with Telegram on (long polling) against the fake Bot API the tests use, on the
//! fixture podcasts. Each round, 50 private chats (`PODBRIEF_BENCH_CHATS`) each send one
//! "related to …" lookup at the same moment; a lookup's latency runs from the update being queued
//! at the fake to its `sendMessage` arriving there. `PODBRIEF_BENCH_ROUNDS` rounds (default 20).
//! The floor: the same lookups, 50 at once, answered in-process by the core (no Telegram, no
//! HTTP), in the same run.
//!
//! The fake runs on a thread and runtime of its own, so it stamps arrivals as they come.

use podbrief_testkit::telegram as fake_telegram;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_telegram::{FakeTelegram, TOKEN, message, private_chat};
use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::UserContext;
use podbrief::core::clock::SystemClock;
use podbrief::core::command::Command;
use podbrief::core::model::{ChatRef, Platform};

/// What the chats ask, in turn.
const LOOKUPS: [&str; 5] = [
    "related to tidal lagoons",
    "related to cider apples",
    "related to wave energy",
    "related to apple breeding",
    "related to Orkney",
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The fake Bot API, started on a thread and runtime of its own.
fn fake_on_its_own_thread() -> FakeTelegram {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the fake");
        rt.block_on(async {
            let _ = tx.send(FakeTelegram::start().await);
            std::future::pending::<()>().await
        })
    });
    rx.recv().expect("the fake starts")
}

/// The median and the 99th percentile, in milliseconds.
fn p50_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let last = samples.len().saturating_sub(1) as f64;
    let ms = |q: f64| samples[(last * q).round() as usize].as_secs_f64() * 1e3;
    (ms(0.5), ms(0.99))
}

async fn build(dir: &std::path::Path, fake: &FakeTelegram) -> App {
    let feeds = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}, {:?}]\n[brief]\nlookback = \"36500d\"\n{}",
        dir.join("bench.db").display(),
        feeds.join("tides.xml").display().to_string(),
        feeds.join("orchard.xml").display().to_string(),
        fake.config(),
    );
    let mut config = Config::from_toml(&toml, std::path::Path::new("bench.toml"), dir.into())
        .expect("the bench config is valid");
    config
        .secret_overrides
        .insert("TELEGRAM_BOT_TOKEN".into(), TOKEN.into());
    let app = App::build(config, Arc::new(SystemClock))
        .await
        .expect("podbrief builds");
    let report = app.ingest(false).await;
    assert!(report.new_insights > 0, "the fixtures give insights");
    app
}

/// One round over Telegram: every chat asks at once; each answer's latency.
async fn telegram_round(fake: &FakeTelegram, chats: usize, answered: &mut usize) -> Vec<Duration> {
    let asked = Instant::now();
    for chat in 0..chats {
        let id = 10_000 + chat as i64;
        let text = LOOKUPS[chat % LOOKUPS.len()];
        fake.push_update(message(private_chat(id), Some(id), text));
    }
    *answered += chats;
    fake.wait_calls("sendmessage", *answered).await;
    let times = fake.call_times("sendmessage");
    times[times.len() - chats..]
        .iter()
        .map(|t| t.duration_since(asked))
        .collect()
}

/// The same lookups answered in-process, all at once.
async fn floor_round(app: &App, chats: usize) -> Vec<Duration> {
    let asks = (0..chats).map(|chat| {
        let core = app.core.clone();
        let text = LOOKUPS[chat % LOOKUPS.len()].trim_start_matches("related to ");
        async move {
            let start = Instant::now();
            let ctx = UserContext {
                chat: ChatRef {
                    platform: Platform::Telegram,
                    chat_id: (10_000 + chat).to_string(),
                    thread_id: None,
                },
                user_id: None,
                can_manage: false,
                scope_id: None,
            };
            let reply = core.handle(&ctx, Command::Related(text.into())).await;
            assert!(!reply.cards.is_empty(), "{text}: {}", reply.text);
            start.elapsed()
        }
    });
    futures::future::join_all(asks.map(tokio::spawn))
        .await
        .into_iter()
        .map(|r| r.expect("a lookup task"))
        .collect()
}

#[tokio::main]
async fn main() {
    let chats = env_or("PODBRIEF_BENCH_CHATS", 50);
    let rounds = env_or("PODBRIEF_BENCH_ROUNDS", 20);
    let fake = fake_on_its_own_thread();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let app = build(dir.path(), &fake).await;
    let running = app.start(None).await.expect("podbrief starts");
    fake.wait_calls("getupdates", 1).await;

    let (mut over_telegram, mut floor) = (Vec::new(), Vec::new());
    let mut answered = 0;
    // One warm-up round of each, not counted.
    telegram_round(&fake, chats, &mut answered).await;
    floor_round(&app, chats).await;
    for _ in 0..rounds {
        over_telegram.extend(telegram_round(&fake, chats, &mut answered).await);
        floor.extend(floor_round(&app, chats).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let samples = over_telegram.len();
    let (t50, t99) = p50_p99(over_telegram);
    let (f50, f99) = p50_p99(floor);
    println!(
        "chats benchmark: {chats} chats asking at once, {rounds} rounds ({samples} lookups); latency in ms"
    );
    println!("{:<58} {:>8} {:>8}", "", "p50", "p99");
    println!(
        "{:<58} {t50:>8.2} {t99:>8.2}",
        "Telegram end to end (update queued → sendMessage arrives)"
    );
    println!(
        "{:<58} {f50:>8.2} {f99:>8.2}",
        "in-process lookups, same concurrency (the floor)"
    );
    running.shutdown().await;
}
