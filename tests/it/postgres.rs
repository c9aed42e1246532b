//! PostgreSQL and several instances on one database: every brief delivered exactly once by three
//! instances, still delivered when one is killed mid-fan-out, Telegram polling taken over when
//! its holder dies, and `copy-db` from SQLite answering the same.
//!
//! The tests that need a server run when `PODBRIEF_TEST_DATABASE_URL` names one
//! (`postgres://user@127.0.0.1:port/postgres`, as `.ci/run` sets it) and print a note otherwise.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::clock::{ManualClock, SystemClock};
use podbrief::core::model::Platform;
use podbrief::store::{DeliveryDone, DeliveryResult, NewSubscription, PgStore, Store, StoreError};
use sqlx::Connection;

use crate::support::telegram::{FakeTelegram, TOKEN, message, private_chat};
use crate::support::{
    BotProcess, Options, PgDatabase, START, TestApp, at, daily, fixtures, postgres_server,
    subscribe_telegram_chats, telegram_chat, wait_until,
};

/// The test server, or `None` after printing why the test does nothing.
fn server_or_skip(test: &str) -> Option<String> {
    let server = postgres_server();
    if server.is_none() {
        eprintln!(
            "{test}: skipped; set PODBRIEF_TEST_DATABASE_URL=postgres://USER@HOST:PORT/postgres to run it"
        );
    }
    server
}

/// The config of one instance: the shared database, the fixture feed, the fake Bot API with
/// limits scaled up, and a lease long enough that a live instance's sends never outlast it.
fn instance_toml(db: &str, fake: &FakeTelegram, concurrency: usize) -> String {
    format!(
        "[database]\nurl = \"{db}\"\nmax_connections = 8\n[ingest]\nfeeds = [{:?}]\n\
         [brief]\nlookback = \"36500d\"\n\
         [telegram]\nenabled = true\napi_url = \"{}\"\nper_second = 2000\nper_chat_per_second = 5\n\
         per_group_per_minute = 1000\n\
         [delivery]\nconcurrency = {concurrency}\nlease = \"5s\"\n",
        fixtures().join("feeds/tides.xml").display().to_string(),
        fake.base
    )
}

async fn instance(toml: &str, dir: &Path) -> App {
    let mut config =
        Config::from_toml(toml, Path::new("bot.toml"), dir.to_path_buf()).expect("config is valid");
    config
        .secret_overrides
        .insert("TELEGRAM_BOT_TOKEN".into(), TOKEN.into());
    App::build(config, Arc::new(SystemClock))
        .await
        .expect("the instance builds")
}

/// Insights and `n` Telegram subscriptions, all due a minute ago.
async fn prepare(app: &App, n: i64) {
    let r = app.ingest(false).await;
    assert!(r.new_insights > 0, "{r:?}");
    subscribe_telegram_chats(
        app.store.as_ref(),
        1..=n,
        Utc::now() - chrono::Duration::minutes(1),
    )
    .await;
}

fn sends_per_chat(fake: &FakeTelegram) -> HashMap<i64, usize> {
    let mut per_chat = HashMap::new();
    for c in fake.calls("sendmessage") {
        *per_chat
            .entry(c["chat_id"].as_i64().unwrap_or(0))
            .or_insert(0) += 1;
    }
    per_chat
}

async fn all_sent(store: &Arc<dyn Store>, n: i64) -> bool {
    let rows = store.deliveries(false, n + 10).await.unwrap();
    rows.len() as i64 == n && rows.iter().all(|d| d.status == "sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_every_brief_exactly_once() {
    let Some(server) = server_or_skip("three_instances_deliver_every_brief_exactly_once") else {
        return;
    };
    let n = 2_000i64;
    let db = PgDatabase::create(&server).await;
    let fake = FakeTelegram::start().await;
    fake.slow_sends(std::time::Duration::from_millis(2));
    let dir = tempfile::tempdir().unwrap();
    let toml = instance_toml(&db.url, &fake, 16);
    let first = instance(&toml, dir.path()).await;
    prepare(&first, n).await;
    // Two more instances: separate pools, indexes and schedulers on the same database.
    let apps = [
        first,
        instance(&toml, dir.path()).await,
        instance(&toml, dir.path()).await,
    ];
    let mut running = Vec::new();
    for app in &apps {
        running.push(app.start(None).await.expect("the instance starts"));
    }
    let store = apps[0].store.clone();
    wait_until("every delivery is sent", || all_sent(&store, n)).await;
    let per_chat = sends_per_chat(&fake);
    assert_eq!(per_chat.len() as i64, n, "every subscription got its brief");
    let doubled: Vec<_> = per_chat.iter().filter(|(_, c)| **c > 1).collect();
    assert!(doubled.is_empty(), "chats that got two briefs: {doubled:?}");
    let by_instance: Vec<u64> = apps
        .iter()
        .map(|a| a.metrics.sent(Platform::Telegram))
        .collect();
    eprintln!("briefs sent by each instance: {by_instance:?}");
    assert_eq!(by_instance.iter().sum::<u64>(), n as u64);
    for r in running {
        r.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_planned_by_one_instance_wake_the_others_outbox_at_once() {
    let Some(server) =
        server_or_skip("deliveries_planned_by_one_instance_wake_the_others_outbox_at_once")
    else {
        return;
    };
    let db = PgDatabase::create(&server).await;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = instance_toml(&db.url, &fake, 16);
    // The sender runs with nothing to do: its scheduler sleeps for an hour and its outbox until
    // its once-a-minute check.
    let sender = instance(&toml, dir.path()).await;
    let running = sender.start(None).await.expect("the instance starts");
    // Another instance (not started: only its scheduler runs, once) plans 20 briefs.
    let planner = instance(&toml, dir.path()).await;
    prepare(&planner, 20).await;
    let catch_up = std::time::Duration::from_secs(6 * 3600);
    let planned = podbrief::deliver::plan_due(&planner.core, Utc::now(), catch_up).await;
    assert_eq!(planned.unwrap(), 20);
    // The sender's outbox hears of them through NOTIFY, well before its minute is up.
    let store = sender.store.clone();
    let started = std::time::Instant::now();
    while !all_sent(&store, 20).await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the other instance's outbox did not wake for the planned deliveries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sender.metrics.sent(Platform::Telegram), 20);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_fan_out_loses_no_brief() {
    let Some(server) = server_or_skip("an_instance_killed_mid_fan_out_loses_no_brief") else {
        return;
    };
    let n = 2_000i64;
    let concurrency = 16usize;
    let db = PgDatabase::create(&server).await;
    let fake = FakeTelegram::start().await;
    fake.slow_sends(std::time::Duration::from_millis(3));
    let dir = tempfile::tempdir().unwrap();
    let toml = instance_toml(&db.url, &fake, concurrency);
    let config_path = dir.path().join("bot.toml");
    std::fs::write(&config_path, &toml).unwrap();
    let b = instance(&toml, dir.path()).await;
    prepare(&b, n).await;

    // Instance A, a separate process, starts the fan-out alone; B and C join it.
    let mut a = BotProcess::start(&config_path);
    let f = fake.clone();
    wait_until("instance A is sending", move || {
        let f = f.clone();
        async move { f.count("sendmessage") >= 100 }
    })
    .await;
    let c = instance(&toml, dir.path()).await;
    let running = [
        b.start(None).await.expect("B starts"),
        c.start(None).await.expect("C starts"),
    ];
    let f = fake.clone();
    wait_until("the three share the fan-out", move || {
        let f = f.clone();
        async move { f.count("sendmessage") >= 600 }
    })
    .await;
    a.kill();
    let at_kill = fake.count("sendmessage") as i64;
    assert!(at_kill < n, "killed mid-fan-out ({at_kill} of {n} sent)");

    // A's claims expire after their lease; B and C send what A had not.
    let store = b.store.clone();
    wait_until("every delivery is sent", || all_sent(&store, n)).await;
    let per_chat = sends_per_chat(&fake);
    assert_eq!(per_chat.len() as i64, n, "every subscription got its brief");
    let duplicates: usize = per_chat.values().map(|c| c - 1).sum();
    eprintln!(
        "killed after {at_kill} sends; {duplicates} duplicates; B sent {}, C sent {}",
        b.metrics.sent(Platform::Telegram),
        c.metrics.sent(Platform::Telegram)
    );
    assert!(
        duplicates <= 2 * concurrency,
        "{duplicates} duplicates; at most the sends A had not recorded"
    );
    for r in running {
        r.stop();
    }
}

fn offsets(fake: &FakeTelegram) -> Vec<i64> {
    fake.calls("getupdates")
        .iter()
        .filter_map(|c| c["offset"].as_i64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_polling_moves_to_another_instance_when_its_holder_dies() {
    let Some(_) = server_or_skip("telegram_polling_moves_to_another_instance_when_its_holder_dies")
    else {
        return;
    };
    let fake = FakeTelegram::start().await;
    let t = TestApp::spawn_with(Options {
        extra: fake.config(),
        secrets: vec![("TELEGRAM_BOT_TOKEN", TOKEN.into())],
        ..Default::default()
    })
    .await;
    t.ingest().await;
    let running_a = t.start().await;
    fake.wait_calls("getupdates", 1).await;
    // B starts while A polls: it stands by.
    let b = App::build(t.app.config.clone(), t.clock.clone())
        .await
        .expect("B builds");
    let running_b = b.start(None).await.expect("B starts");
    assert!(
        b.store
            .try_lock("telegram-polling")
            .await
            .unwrap()
            .is_none(),
        "A holds the polling lock"
    );

    fake.push_update(message(private_chat(1), Some(1), "/top"));
    fake.wait_calls("sendmessage", 1).await;
    // A confirms the update (the next getUpdates asks from the one after it).
    let f = fake.clone();
    wait_until("A confirmed update 1001", move || {
        let f = f.clone();
        async move { offsets(&f).contains(&1002) }
    })
    .await;

    // A dies: its tasks stop (the lock's connection with them) and its pool closes.
    running_a.stop();
    t.app.store.close().await;
    fake.push_update(message(private_chat(2), Some(2), "/top"));
    // B asks again every few seconds and takes over.
    fake.wait_calls("sendmessage", 2).await;
    let f = fake.clone();
    wait_until("B confirmed update 1002", move || {
        let f = f.clone();
        async move { offsets(&f).contains(&1003) }
    })
    .await;
    let per_chat = sends_per_chat(&fake);
    assert_eq!(per_chat.get(&1), Some(&1), "update 1001 handled once");
    assert_eq!(per_chat.get(&2), Some(&1), "update 1002 handled once");
    // Once confirmed, no update is asked for again: B starts with no offset (only unconfirmed
    // updates), and the offsets given never go back.
    let seen: Vec<i64> = offsets(&fake).into_iter().filter(|o| *o > 0).collect();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]) && seen.contains(&1002) && seen.contains(&1003),
        "offsets went back, or an update was never confirmed: {seen:?}"
    );
    assert!(
        b.store
            .try_lock("telegram-polling")
            .await
            .unwrap()
            .is_none(),
        "B holds the polling lock"
    );
    running_b.stop();
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    // Port 1 on loopback refuses connections.
    let e = PgStore::connect("postgres://podbrief:s3cret-pw@127.0.0.1:1/podbrief", 2)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Unreachable { .. }), "{e:?}");
    assert!(text.contains("127.0.0.1:1/podbrief"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        "[database]\nurl = \"postgresql://podbrief:s3cret-pw@127.0.0.1:1/podbrief\"\n",
        Path::new("bot.toml"),
        dir.path().to_path_buf(),
    )
    .expect("postgresql:// URLs are accepted");
    let e = App::build(config, Arc::new(SystemClock))
        .await
        .err()
        .expect("no server there");
    let text = format!("{e:#}");
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("s3cret-pw"),
        "{text}"
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_clearly() {
    let Some(server) = server_or_skip("a_schema_newer_than_the_binary_is_refused_clearly") else {
        return;
    };
    let db = PgDatabase::create(&server).await;
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    let e = store.migrate().await.unwrap_err();
    assert!(matches!(e, StoreError::SchemaNewer(9999)), "{e:?}");
    assert!(e.to_string().contains("newer than this podbrief"), "{e}");
    store.close().await;
}

/// An app on `url` reading both fixture feeds from files, at the harness's start time.
async fn app_on(url: &str, dir: &Path) -> (App, Arc<ManualClock>) {
    let feeds = fixtures().join("feeds");
    let toml = format!(
        "[database]\nurl = \"{url}\"\n[ingest]\nfeeds = [{:?}, {:?}]\n[brief]\nlookback = \"30d\"\nsize = 3\n",
        feeds.join("tides.xml").display().to_string(),
        feeds.join("orchard.xml").display().to_string(),
    );
    let config = Config::from_toml(&toml, Path::new("bot.toml"), dir.to_path_buf()).unwrap();
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    let app = App::build(config, clock.clone()).await.unwrap();
    (app, clock)
}

async fn say(app: &App, text: &str) -> podbrief::core::model::Reply {
    let ctx = podbrief::core::UserContext {
        chat: podbrief::adapters::console::console_chat(),
        user_id: Some("tester".into()),
        can_manage: true,
        scope_id: None,
    };
    let parse = podbrief::core::command::ParseContext {
        bot_username: None,
        plain_text_is_lookup: true,
    };
    app.core
        .handle_text(&ctx, text, parse)
        .await
        .expect("the console answers every message")
}

#[tokio::test]
async fn copy_db_moves_a_sqlite_database_to_postgres_and_it_answers_the_same() {
    let Some(server) = server_or_skip("copy_db_moves_a_sqlite_database_to_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("podbrief.db").display());
    let (lite, _clock) = app_on(&sqlite_url, dir.path()).await;
    let r = lite.ingest(false).await;
    assert!(r.new_insights > 0 && r.feed_errors.is_empty(), "{r:?}");
    say(&lite, "/subscribe 08:00 Europe/Berlin").await;
    say(&lite, "/topics lagoons, -cider").await;
    // Telegram chats with deliveries: one sent (with its insights), one pending.
    let mut ids = Vec::new();
    for id in [1, 2] {
        let sub = lite
            .store
            .upsert_subscription(&NewSubscription {
                created_by: Some("42".into()),
                ..daily(telegram_chat(id), at("2026-11-27T08:00:00Z"))
            })
            .await
            .unwrap();
        ids.push(sub.id);
        let plan = podbrief::store::Plan {
            subscription: sub.id,
            occurrence: at("2026-11-27T08:00:00Z"),
            next_run_at: at("2026-11-28T08:00:00Z"),
            missed: false,
        };
        lite.store
            .plan_deliveries(&[plan], at("2026-11-27T08:00:00Z"), None)
            .await
            .unwrap();
    }
    let claimed = lite
        .store
        .claim_deliveries(at("2026-11-27T08:00:01Z"), at("2026-11-27T08:10:00Z"), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let candidates = lite
        .store
        .brief_candidates(at("2020-01-01T00:00:00Z"), None)
        .await
        .unwrap();
    let sent: Vec<i64> = candidates.iter().take(2).map(|i| i.id).collect();
    lite.store
        .record_deliveries(&[DeliveryDone {
            id: claimed[0].id,
            subscription: claimed[0].subscription.id,
            result: DeliveryResult::Sent {
                message_ids: vec!["77".into()],
                insights: sent.clone(),
                at: at("2026-11-27T08:00:02Z"),
            },
        }])
        .await
        .unwrap();
    let topic = candidates[0].topics[0].clone();
    let questions = [
        "/top".to_string(),
        format!("/related {topic}"),
        "/related tide gauges".to_string(),
        "/settings".to_string(),
    ];
    let mut before = Vec::new();
    for q in &questions {
        before.push(say(&lite, q).await);
    }
    let stats = lite.store.stats().await.unwrap();
    let deliveries = lite.store.deliveries(false, 10).await.unwrap();
    lite.store.close().await;

    let target = PgDatabase::create(&server).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"))
        .args(["copy-db", "--from", &sqlite_url, "--to", &target.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("row counts verified"), "{stdout}");
    assert!(stdout.contains("delivered_insights"), "{stdout}");

    let (pg, _clock) = app_on(&target.url, dir.path()).await;
    for (q, reply) in questions.iter().zip(&before) {
        assert_eq!(&say(&pg, q).await, reply, "{q} answers the same");
    }
    assert!(!before[0].cards.is_empty() && !before[1].cards.is_empty());
    assert_eq!(pg.store.stats().await.unwrap(), stats);
    assert_eq!(pg.store.deliveries(false, 10).await.unwrap(), deliveries);
    // Delivered insights came along: the sent chat's candidates exclude them.
    let left = pg
        .store
        .brief_candidates(at("2020-01-01T00:00:00Z"), Some(claimed[0].subscription.id))
        .await
        .unwrap();
    assert_eq!(left.len(), candidates.len() - sent.len());
    // The id sequences moved past the copied ids.
    let new = pg
        .store
        .upsert_subscription(&NewSubscription {
            schedule: "09:00".into(),
            ..daily(telegram_chat(3), at("2026-11-28T09:00:00Z"))
        })
        .await
        .unwrap();
    assert!(ids.iter().all(|id| new.id > *id), "{new:?} after {ids:?}");
    pg.store.close().await;

    // A second copy into the now non-empty database is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"))
        .args(["copy-db", "--from", &sqlite_url, "--to", &target.url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not empty"), "{stderr}");
}
