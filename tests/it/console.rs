//! Someone trying podbrief with no tokens: the console chat, and its daily brief.

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
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
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
