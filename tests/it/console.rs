//! Someone trying podbrief with no tokens: the console chat, and its daily brief; and the same
//! `podbrief` run as a service, with no terminal.

use chrono::Duration;

use crate::support::TestApp;

#[tokio::test]
async fn the_console_answers_commands() {
    let t = TestApp::ingested().await;
    let mut c = t.open_console();
    c.type_line("/help").await;
    c.wait_for("the help text", |o| {
        o.contains("/subscribe [HH:MM] [Area/City]")
    })
    .await;
    c.type_line("related to Orkney").await;
    let out = c
        .wait_for("a card", |o| o.contains("Wave Energy Buoys"))
        .await;
    assert!(out.contains("more like this: /more "), "{out}");
    c.type_line("/frobnicate").await;
    c.wait_for("an unknown-command hint", |o| {
        o.contains("I don't know the command /frobnicate")
    })
    .await;
    c.type_line("/quit").await;
    c.task.await.unwrap();
}

#[tokio::test]
async fn a_console_subscription_prints_its_brief_when_its_time_comes() {
    let t = TestApp::ingested().await;
    // 06:00 UTC is 07:00 in Paris; the brief is due at 08:00 Paris = 07:00 UTC.
    let mut c = t.open_console();
    c.type_line("/subscribe 08:00 Europe/Paris").await;
    c.wait_for("the confirmation", |o| {
        o.contains("The first brief: Fri 27 Nov 08:00 CET")
    })
    .await;
    t.clock.advance(Duration::minutes(59));
    t.run_due_deliveries().await;
    assert!(
        !c.output().contains("podbrief for"),
        "no brief before its time"
    );

    t.clock.advance(Duration::minutes(1));
    let out = c
        .wait_for("the brief", |o| {
            o.contains("podbrief for Friday 27 November: the top 3 insights")
        })
        .await;
    let first: Vec<String> = out
        .lines()
        .filter(|l| l.contains("more like this: /more"))
        .map(String::from)
        .collect();
    assert_eq!(first.len(), 3, "{out}");

    // The next day brings no insight twice: one new episode's worth or nothing.
    t.clock.advance(Duration::days(1));
    t.run_due_deliveries().await;
    let later = c.output();
    let all: Vec<&str> = later
        .lines()
        .filter(|l| l.contains("more like this: /more"))
        .collect();
    for line in &first {
        assert_eq!(
            all.iter().filter(|l| **l == line.as_str()).count(),
            1,
            "{line} sent twice:\n{later}"
        );
    }
    c.type_line("/quit").await;
    c.task.await.unwrap();
}

/// A `bot.toml` in `dir` reading the tides fixture feed, with `extra` appended.
fn service_config(dir: &std::path::Path, extra: &str) {
    let feeds = crate::support::fixtures().join("feeds");
    std::fs::write(
        dir.join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}]\n[brief]\nlookback = \"36500d\"\n{extra}",
            dir.join("bot.db").display(),
            feeds.join("tides.xml").display().to_string(),
        ),
    )
    .unwrap();
}

fn podbrief(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
    c
}

#[tokio::test]
async fn run_with_stdin_at_dev_null_and_only_the_web_keeps_serving_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    service_config(
        dir.path(),
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let child = podbrief(dir.path())
        .arg("run")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/healthz");
    crate::support::wait_until("/healthz answers", || {
        let health = health.clone();
        async move {
            reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        reqwest::get(&health).await.unwrap().status().is_success(),
        "still serving a second later"
    );
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    // Piped logs: plain text, no terminal escape codes; and no console was opened.
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("INFO") && logs.contains("ready"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "escape codes in piped logs: {logs:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn one_shot_commands_log_only_warnings_unless_verbose() {
    let dir = tempfile::tempdir().unwrap();
    service_config(dir.path(), "");
    let ingest = podbrief(dir.path()).arg("ingest").output().unwrap();
    assert!(ingest.status.success());
    let quiet = podbrief(dir.path()).arg("brief").output().unwrap();
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stdout).is_empty());
    let logs = String::from_utf8_lossy(&quiet.stderr);
    assert!(!logs.contains("INFO"), "{logs}");
    let verbose = podbrief(dir.path()).args(["-v", "brief"]).output().unwrap();
    let logs = String::from_utf8_lossy(&verbose.stderr);
    assert!(logs.contains("INFO"), "{logs}");
    assert_eq!(quiet.stdout, verbose.stdout);
}

#[tokio::test]
async fn an_excluded_topic_keeps_its_episode_out_of_top_and_the_brief() {
    let t = TestApp::ingested().await;
    let on_buoys = |cards: &[podbrief::core::model::Card]| {
        cards
            .iter()
            .filter(|c| c.episode == "Wave Energy Buoys")
            .count()
    };
    // Before: /top has an insight of "Wave Energy Buoys" whose own words never say "buoy".
    let before = t.say("/top").await;
    assert!(on_buoys(&before.cards) > 0, "{before:?}");

    t.say("/subscribe 08:00 UTC").await;
    t.say("/topics chips, -buoys").await;
    let top = t.say("/top").await;
    assert_eq!(on_buoys(&top.cards), 0, "{top:?}");
    assert_eq!(top.cards.len(), before.cards.len(), "others take its place");
    let brief = t.console_brief().await;
    assert!(!brief.cards.is_empty());
    assert_eq!(on_buoys(&brief.cards), 0, "{brief:?}");
}
