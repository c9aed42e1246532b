//! `cargo bench --bench fanout`: how fast podbrief delivers a fan-out of briefs.
//!
//! N subscriptions (default 20,000; `PODBRIEF_BENCH_N=100000` for the full run), all due at
//! once, against fakes on loopback (the fake Bot API and fake Discord the tests use):
//!
//! (a) half Telegram chats, half Discord channels, limits lifted: podbrief's own cost —
//!     deliveries/s, CPU µs per delivery, peak memory — beside the raw ceiling of the same
//!     machine in the same run: plain reqwest POSTs to the same two fakes, split the same way,
//!     with the same concurrency, no database.
//! (b) all Telegram chats, Telegram's limit shape scaled ×50 (1,500 messages/s overall, 1/s per
//!     chat), enforced by the fake: the achieved rate as a share of the limit, and the 429s
//!     received.
//!
//! (c) with `PODBRIEF_TEST_DATABASE_URL` naming a PostgreSQL server: (a) on PostgreSQL, with one
//!     instance and with three instances sharing the database.
//!
//! The fakes run in the same process, each on a thread and runtime of its own, so CPU and memory
//! include them (and, in (a), the ceiling run pays for them too). The three runs of (a) take turns
//! for `PODBRIEF_BENCH_ROUNDS` rounds (default 3); the best and the median of each are compared.
//! Sends in flight: 128 for podbrief and the ceiling alike (`PODBRIEF_BENCH_CONCURRENCY=K`).
//!
//! Profiling: `PODBRIEF_BENCH_ONLY=a` runs only podbrief's (a) run, `PODBRIEF_BENCH_ONLY=ceiling`
//! only the raw ceiling; `PODBRIEF_BENCH_PERF_CTL=FIFO`
//! names the control fifo of `perf record --control fifo:FIFO -D -1`, enabled only while the
//! fan-out (or the ceiling) is timed (setup and the other parts stay out of the profile).

/// The allocator of the `podbrief` binary, so the figures are the binary's (the ceiling runs on it
/// too).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use podbrief_testkit::{discord as fake_discord, pg, telegram as fake_telegram};

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fake_discord::FakeDiscord;
use fake_telegram::{FakeTelegram, TOKEN};
use podbrief::adapters::telegram::send::TelegramSender;
use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::clock::{Clock, ManualClock};
use podbrief::core::model::{ChatRef, Platform};
use podbrief::deliver::Sender;
use podbrief::store::NewSubscription;

fn proc_status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name come field 3 (state) onwards: utime is field 14, stime field 15.
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

/// A fake started on a runtime (and thread) of its own, so it stamps arrivals as they come rather
/// than when podbrief's runtime lets it run, and competes for the CPU like another process would.
fn on_its_own_thread<T, F>(start: fn() -> F) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tx.send(start().await).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

/// The fake Bot API on its own thread.
fn fake_on_its_own_thread() -> FakeTelegram {
    on_its_own_thread(FakeTelegram::start)
}

/// The fake Discord (REST and gateway) on its own thread.
fn discord_on_its_own_thread() -> FakeDiscord {
    on_its_own_thread(FakeDiscord::start)
}

/// The config of a benchmark instance: the two fixture feeds, the fake Bot API, the limits.
fn bench_config(
    url: &str,
    fake: &FakeTelegram,
    discord: Option<&FakeDiscord>,
    per_second: u32,
    concurrency: usize,
    dir: &std::path::Path,
) -> Config {
    let feeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let mut toml = format!(
        "[database]\nurl = \"{url}\"\n[ingest]\nfeeds = [{:?}, {:?}]\n[brief]\nlookback = \"36500d\"\n\
         [telegram]\nenabled = true\napi_url = \"{}\"\nper_second = {per_second}\nper_chat_per_second = 10\n\
         [delivery]\nconcurrency = {concurrency}\n",
        feeds.join("tides.xml").display().to_string(),
        feeds.join("orchard.xml").display().to_string(),
        fake.base
    );
    if let Some(discord) = discord {
        // Interactions mode (no gateway session); the overall limit inside `[discord]`.
        toml.push_str(
            &fake_discord::config(discord, "interactions")
                .replace("[http]", &format!("per_second = {per_second}\n[http]")),
        );
    }
    let mut config =
        Config::from_toml(&toml, std::path::Path::new("bench.toml"), dir.to_path_buf()).unwrap();
    config
        .secret_overrides
        .insert("TELEGRAM_BOT_TOKEN".into(), TOKEN.into());
    config
        .secret_overrides
        .insert("DISCORD_TOKEN".into(), fake_discord::TOKEN.into());
    config
}

fn discord_channel(id: i64) -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        chat_id: (700_000_000_000_000_000 + id).to_string(),
        thread_id: None,
    }
}

/// Subscription `id` of a run: with Discord, odd ids are Discord channels and even ids Telegram
/// chats; without, all are Telegram chats.
fn chat_of(id: i64, with_discord: bool) -> ChatRef {
    if with_discord && id % 2 == 1 {
        discord_channel(id)
    } else {
        telegram_chat(id)
    }
}

fn telegram_chat(id: i64) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: id.to_string(),
        thread_id: None,
    }
}

/// The brief every subscription of a run gets (the same insights on the same local date), composed
/// by podbrief from the fixture feeds, with the instance that composed it.
struct Sample {
    app: App,
    config: Config,
    reply: podbrief::core::model::Reply,
    _dir: tempfile::TempDir,
}

async fn sample(fake: &FakeTelegram, concurrency: usize) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sender.db").display());
    let config = bench_config(&url, fake, None, 1_000_000, concurrency, dir.path());
    let start: DateTime<Utc> = "2026-11-27T06:00:00Z".parse().unwrap();
    let app = App::build(config.clone(), Arc::new(ManualClock::new(start)))
        .await
        .unwrap();
    app.ingest(false).await;
    let sub = app
        .store
        .upsert_subscription(&NewSubscription {
            chat: telegram_chat(1),
            schedule: "08:00".into(),
            timezone: "UTC".into(),
            size: 3,
            topics: vec![],
            next_run_at: start,
            created_by: None,
            scope_id: None,
        })
        .await
        .unwrap();
    let (reply, _) = podbrief::deliver::compose::brief(&app.core, &sub)
        .await
        .unwrap()
        .unwrap();
    Sample {
        app,
        config,
        reply,
        _dir: dir,
    }
}

/// A diagnostic beside (a): podbrief's Telegram sender alone (the rate limiter, its `sendMessage`
/// POST on teloxide's client) sending one composed brief, prepared once, to `n` chats, with no
/// database work per send.
async fn sender_only(
    n: i64,
    fake: &FakeTelegram,
    concurrency: usize,
    sample: &Sample,
) -> (Duration, Duration) {
    let (config, reply) = (&sample.config, &sample.reply);
    let bot = teloxide::Bot::new(TOKEN).set_api_url(fake.base.parse().unwrap());
    let sender = Arc::new(TelegramSender::new(
        bot,
        TOKEN.into(),
        &config.telegram,
        sample.app.core.clone(),
    ));
    // Prepared once, as the outbox does for a brief many chats get.
    let brief = Arc::new(sender.prepare(Arc::new(reply.clone())));
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for id in 1..=n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (sender, brief) = (sender.clone(), brief.clone());
        tasks.push(tokio::spawn(async move {
            sender
                .send_prepared(&telegram_chat(id), &brief, id)
                .await
                .unwrap();
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (t0.elapsed(), cpu_time() - cpu0)
}

/// Turns the profiler on or off around the timed part of (a), when `PODBRIEF_BENCH_PERF_CTL`
/// names `perf record`'s control fifo.
fn profiler(on: bool) {
    if let Ok(fifo) = std::env::var("PODBRIEF_BENCH_PERF_CTL") {
        let cmd = if on { "enable\n" } else { "disable\n" };
        if let Err(e) = std::fs::write(&fifo, cmd) {
            eprintln!("cannot write to the perf control fifo {fifo}: {e}");
        }
    }
}

/// Where a run's store lives.
enum Db {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on a PostgreSQL server.
    Postgres(String),
}

/// Delivers a fan-out of `n` briefs with `instances` podbrief instances sharing one store;
/// returns the wall time and the process's CPU time.
async fn podbrief_run(
    n: i64,
    fake: &FakeTelegram,
    discord: Option<&FakeDiscord>,
    per_second: u32,
    concurrency: usize,
    db: &Db,
    instances: usize,
) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let _pg;
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("bench.db").display()),
        Db::Postgres(server) => {
            _pg = pg::PgDatabase::create(server).await;
            _pg.url.clone()
        }
    };
    let config = bench_config(&url, fake, discord, per_second, concurrency, dir.path());
    let start: DateTime<Utc> = "2026-11-27T06:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let mut apps = Vec::new();
    for _ in 0..instances {
        apps.push(App::build(config.clone(), clock.clone()).await.unwrap());
    }
    let app = &apps[0];
    app.ingest(false).await;
    let due: DateTime<Utc> = "2026-11-27T08:00:00Z".parse().unwrap();
    for id in 1..=n {
        let chat = chat_of(id, discord.is_some());
        let scope_id = (chat.platform == Platform::Discord).then(|| fake_discord::GUILD_ID.into());
        app.store
            .upsert_subscription(&NewSubscription {
                chat,
                schedule: "08:00".into(),
                timezone: "UTC".into(),
                size: 3,
                topics: vec![],
                next_run_at: due,
                created_by: None,
                scope_id,
            })
            .await
            .unwrap();
    }
    let mut running = Vec::new();
    for app in &apps {
        running.push(app.start(None).await.unwrap());
    }
    if let Some(d) = discord {
        d.forget_nonces();
    }
    let sent = || {
        // Sends refused with 429 are counted by the fake too; only accepted ones are deliveries.
        let telegram = fake.count("sendmessage") - fake.violations();
        (telegram + discord.map_or(0, |d| d.created_count())) as i64
    };
    let before = sent();
    let profiled = per_second == 1_000_000 && matches!(db, Db::Sqlite);
    if profiled {
        profiler(true);
    }
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    clock.set(due);
    assert!(clock.now() == due);
    while sent() - before < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed();
    let cpu = cpu_time() - cpu0;
    if profiled {
        profiler(false);
    }
    for r in running {
        r.shutdown().await;
    }
    (elapsed, cpu)
}

/// The raw ceiling: plain reqwest POSTs of the same request bodies podbrief sends (the sample
/// brief as rendered for each platform; a Discord nonce of its own per message), serialized once
/// with only the chat id or nonce added per send, to the same two fakes, split the same way, with
/// the same concurrency, and no database.
async fn raw_ceiling(
    n: i64,
    fake: &FakeTelegram,
    discord: Option<&FakeDiscord>,
    concurrency: usize,
    reply: &podbrief::core::model::Reply,
) -> (Duration, Duration) {
    use podbrief::adapters::{discord::render as discord_render, telegram::render as tg_render};
    let http = reqwest::Client::new();
    let telegram_url = format!("{}/bot{TOKEN}/sendMessage", fake.base);
    let discord_base = discord.map(|d| format!("{}/api/v10/channels", d.base));
    if let Some(d) = discord {
        d.forget_nonces();
    }
    // One message each (what the sample brief renders to on both platforms).
    let telegram = &tg_render::render(reply)[0];
    let telegram_rest = serde_json::json!({
        "text": telegram.html,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
        "reply_markup": telegram.keyboard,
    })
    .to_string();
    let discord_body = discord_render::MessageBody::new(&discord_render::render(reply)[0]).unwrap();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for id in 1..=n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let request = match (&discord_base, chat_of(id, discord.is_some()).platform) {
            (Some(base), Platform::Discord) => http
                .post(format!("{base}/{}/messages", discord_channel(id).chat_id))
                .header("authorization", format!("Bot {}", fake_discord::TOKEN))
                .header("content-type", "application/json")
                .body(discord_body.with_nonce(&format!("pbd{id}-0"))),
            _ => http
                .post(&telegram_url)
                .header("content-type", "application/json")
                .body(format!("{{\"chat_id\":{id},{}", &telegram_rest[1..])),
        };
        tasks.push(tokio::spawn(async move {
            let r = request.send().await.unwrap();
            assert!(r.status().is_success(), "the fake refused a ceiling send");
            let _ = r.bytes().await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (t0.elapsed(), cpu_time() - cpu0)
}

/// Rates (per second) of several rounds: the best, and the median.
fn best_and_median(mut rates: Vec<f64>) -> (f64, f64) {
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() - 1], rates[rates.len() / 2])
}

/// (a): the raw ceiling, the sender alone and podbrief take turns for `PODBRIEF_BENCH_ROUNDS`
/// rounds; prints each round and the best and median of each. Returns the best ceiling.
async fn rounds_of_a(
    n: i64,
    fake: &FakeTelegram,
    both: Option<&FakeDiscord>,
    concurrency: usize,
    sample: &Sample,
) -> f64 {
    // The three runs of (a) take turns, round after round, so a busy moment of the machine
    // does not fall on one of them only; the best and the median round of each are compared.
    let rounds: usize = std::env::var("PODBRIEF_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let per = |d: Duration| d.as_micros() as f64 / n as f64;
    let (mut ceilings, mut alones, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (ceiling, ceiling_cpu) = raw_ceiling(n, fake, both, concurrency, &sample.reply).await;
        let (alone, alone_cpu) = sender_only(n, fake, concurrency, sample).await;
        let (elapsed, cpu) =
            podbrief_run(n, fake, both, 1_000_000, concurrency, &Db::Sqlite, 1).await;
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "(a) round {round}: raw ceiling {:.0}/s (CPU {:.0} µs/send), sender alone {:.0}/s (CPU {:.0} µs/send), podbrief {:.0}/s (CPU {:.0} µs/delivery): podbrief at {:.0}% of this round's ceiling",
            rate(ceiling),
            per(ceiling_cpu),
            rate(alone),
            per(alone_cpu),
            rate(elapsed),
            per(cpu),
            100.0 * rate(elapsed) / rate(ceiling)
        );
        ceilings.push(rate(ceiling));
        alones.push(rate(alone));
        ours.push(rate(elapsed));
    }
    let (ceiling_best, ceiling_median) = best_and_median(ceilings);
    let (alone_best, alone_median) = best_and_median(alones);
    let (ours_best, ours_median) = best_and_median(ours);
    println!(
        "(a) raw ceiling (reqwest POSTs, no database), best / median of {rounds}: {ceiling_best:.0}/s / {ceiling_median:.0}/s"
    );
    println!(
        "(a) diagnostic, podbrief's Telegram sender alone (limiter, sendMessage POST, the brief prepared once; no database): {alone_best:.0}/s / {alone_median:.0}/s ({:.0}% / {:.0}% of the ceiling)",
        100.0 * alone_best / ceiling_best,
        100.0 * alone_median / ceiling_median
    );
    println!(
        "(a) podbrief, limits lifted: {ours_best:.0}/s / {ours_median:.0}/s ({:.0}% / {:.0}% of the ceiling), peak RSS {} MB",
        100.0 * ours_best / ceiling_best,
        100.0 * ours_median / ceiling_median,
        proc_status("VmHWM:") / 1024
    );
    ceiling_best
}

/// (b): all Telegram chats against the fake's enforced limits, podbrief set to 97% of them.
async fn run_b(n: i64, concurrency: usize) {
    let limited = fake_on_its_own_thread();
    limited.lean();
    let limit = 1_500;
    limited.enforce_limits(limit, 1);
    let allowed = (limit as f64 * 0.97) as u32;
    let (elapsed, _) = podbrief_run(n, &limited, None, allowed, concurrency, &Db::Sqlite, 1).await;
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "(b) podbrief, Telegram limits ×50 ({limit}/s overall, 1/s per chat; podbrief set to {allowed}/s): {rate:.0}/s = {:.1}% of the limit, {} 429s (overall, per chat, per group: {:?})",
        100.0 * rate / limit as f64,
        limited.violations(),
        limited.violations_by_limit()
    );
}

/// (c): (a) on PostgreSQL with one and three instances, when a server is named.
async fn run_c(
    n: i64,
    fake: &FakeTelegram,
    both: Option<&FakeDiscord>,
    concurrency: usize,
    ceiling_best: f64,
) {
    // PostgreSQL, limits lifted, one and three instances sharing the database (in this process,
    // each with its own pool, scheduler and outbox).
    let Some(server) = pg::postgres_server() else {
        println!("(c) PostgreSQL: skipped; set PODBRIEF_TEST_DATABASE_URL to run it");
        return;
    };
    for instances in [1, 3] {
        let (elapsed, cpu) = podbrief_run(
            n,
            fake,
            both,
            1_000_000,
            concurrency,
            &Db::Postgres(server.clone()),
            instances,
        )
        .await;
        let rate = n as f64 / elapsed.as_secs_f64();
        println!(
            "(c) podbrief on PostgreSQL, {instances} instance(s), limits lifted: {n} briefs in {elapsed:.2?} = {rate:.0}/s ({:.0}% of the best ceiling of (a)), CPU {:.0} µs/delivery (server excluded)",
            100.0 * rate / ceiling_best,
            cpu.as_micros() as f64 / n as f64,
        );
    }
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("PODBRIEF_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let concurrency: usize = std::env::var("PODBRIEF_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    println!(
        "fanout: {n} subscriptions, concurrency {concurrency}; (a) and (c) half Telegram chats, half Discord channels; fakes on loopback in-process"
    );

    let fake = fake_on_its_own_thread();
    fake.lean();
    let discord = discord_on_its_own_thread();
    discord.lean();
    let both = Some(&discord);
    let sample = sample(&fake, concurrency).await;
    if std::env::var("PODBRIEF_BENCH_ONLY").as_deref() == Ok("ceiling") {
        profiler(true);
        let (elapsed, cpu) = raw_ceiling(n, &fake, both, concurrency, &sample.reply).await;
        profiler(false);
        println!(
            "(a) raw ceiling: {n} sends in {elapsed:.2?} = {:.0}/s, CPU {:.0} µs/send",
            n as f64 / elapsed.as_secs_f64(),
            cpu.as_micros() as f64 / n as f64
        );
        return;
    }
    if std::env::var("PODBRIEF_BENCH_ONLY").as_deref() == Ok("a") {
        let (elapsed, cpu) =
            podbrief_run(n, &fake, both, 1_000_000, concurrency, &Db::Sqlite, 1).await;
        println!(
            "(a) podbrief, limits lifted: {n} briefs in {elapsed:.2?} = {:.0}/s, CPU {:.0} µs/delivery",
            n as f64 / elapsed.as_secs_f64(),
            cpu.as_micros() as f64 / n as f64
        );
        return;
    }
    let ceiling_best = rounds_of_a(n, &fake, both, concurrency, &sample).await;

    run_b(n, concurrency).await;
    run_c(n, &fake, both, concurrency, ceiling_best).await;
}
