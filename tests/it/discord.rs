//! The Discord adapter against a fake Discord on 127.0.0.1: serenity talks to the fake REST API
//! (through `discord.proxy`) and the fake gateway; the interactions endpoint gets signed requests.

use std::time::Duration;

use podbrief::core::UserContext;
use podbrief::core::clock::Clock;
use podbrief::core::command::Command;
use podbrief::core::model::{ChatRef, NewInsight, Platform};
use serde_json::{Value, json};

use crate::support::discord::*;
use crate::support::embeddings::FakeEmbeddings;
use crate::support::{Options, TestApp};

fn channel() -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        chat_id: CHANNEL_ID.into(),
        thread_id: None,
    }
}

async fn app(fake: &FakeDiscord, mode: &str) -> TestApp {
    TestApp::spawn_with(Options {
        extra: config(fake, mode),
        secrets: vec![("DISCORD_TOKEN", TOKEN.into())],
        ..Default::default()
    })
    .await
}

/// Subscribes the test channel at 07:00 UTC (an hour after the tests' start) through the core.
async fn subscribe(t: &TestApp) -> podbrief::core::model::Subscription {
    let user = UserContext {
        chat: channel(),
        user_id: Some(USER_ID.into()),
        can_manage: true,
        scope_id: Some(GUILD_ID.into()),
    };
    let cmd = Command::Subscribe {
        time: Some("07:00".into()),
        timezone: Some("UTC".into()),
    };
    let r = t.app.core.handle(&user, cmd).await;
    assert!(r.text.starts_with("Subscribed"), "{}", r.text);
    t.app.store.subscription(&channel()).await.unwrap().unwrap()
}

/// Waits (bounded) until the channel's subscription is paused; returns the reason.
async fn paused_reason(t: &TestApp) -> String {
    for _ in 0..1000 {
        if let Some(r) = t
            .app
            .store
            .subscription(&channel())
            .await
            .unwrap()
            .and_then(|s| s.paused_reason)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the subscription was never paused");
}

fn option(kind: u8, name: &str, value: Value) -> Value {
    json!({"type": kind, "name": name, "value": value})
}

/// `/related cider` from a member without special permissions, as interaction `id`.
fn related_cider(id: u64) -> String {
    slash(
        id,
        "related",
        json!([option(3, "query", json!("cider"))]),
        MEMBER_PLAIN,
        BOT_CAN_POST,
    )
    .to_string()
}

#[tokio::test]
async fn gateway_subscribe_is_answered_and_stored_and_leaving_pauses() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "gateway").await;
    let running = t.start().await;

    // Commands are registered in the configured guild; changing subscriptions needs Manage
    // Channels by default.
    let put = fake
        .wait_for(
            "PUT",
            &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
            1,
        )
        .await;
    assert_eq!(put[0].auth, format!("Bot {TOKEN}"));
    let commands = put[0].body.as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["subscribe", "unsubscribe", "settings", "top", "related"]
    );
    assert_eq!(commands[0]["default_member_permissions"], "16");
    let tz = &commands[0]["options"][1];
    assert_eq!(
        (tz["name"].as_str(), tz["autocomplete"].as_bool()),
        (Some("timezone"), Some(true))
    );

    fake.wait_identified().await;
    let options = json!([
        option(3, "time", json!("07:30")),
        option(3, "timezone", json!("Europe/Berlin")),
        option(4, "size", json!(2)),
    ]);
    fake.dispatch(
        "INTERACTION_CREATE",
        slash(1001, "subscribe", options, MEMBER_MANAGES, BOT_CAN_POST),
    );
    let cb = fake
        .wait_for(
            "POST",
            "/interactions/1001/interaction-token-1001/callback",
            1,
        )
        .await;
    assert_eq!(cb[0].body["type"], 4);
    let content = cb[0].body["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("Subscribed"), "{content}");
    assert_eq!(cb[0].body["data"]["allowed_mentions"]["parse"], json!([]));
    let sub = t.app.store.subscription(&channel()).await.unwrap().unwrap();
    assert_eq!(
        (sub.schedule.as_str(), sub.timezone.as_str(), sub.size),
        ("07:30", "Europe/Berlin", 2)
    );

    // The bot is removed from the server: its subscriptions pause.
    fake.dispatch("GUILD_DELETE", json!({"id": GUILD_ID}));
    assert!(paused_reason(&t).await.contains("removed"));
    running.stop();
}

#[tokio::test]
async fn endpoint_verifies_signatures_and_answers_lookups() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    t.ingest().await;
    let running = t.start().await;
    let addr = running.http_addr.expect("the HTTP server runs");
    let key = signing_key();

    let (status, body) = post_interaction(addr, ping().to_string().as_bytes(), Some(&key)).await;
    assert_eq!((status, body), (200, json!({"type": 1})));

    let related = related_cider(2001);
    let (status, body) = post_interaction(addr, related.as_bytes(), Some(&key)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 4);
    let embeds = body["data"]["embeds"].as_array().expect("cards as embeds");
    assert!(!embeds.is_empty() && embeds.len() <= 10, "{body}");
    assert!(embeds[0]["description"].as_str().unwrap().len() > 20);
    assert_eq!(body["data"]["allowed_mentions"]["parse"], json!([]));
    let more = body["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(more.starts_with("more:"), "{more}");
    // Cards are numbered, and each button names its card's number.
    if embeds.len() > 1 {
        for (i, embed) in embeds.iter().enumerate() {
            let title = embed["title"].as_str().unwrap();
            assert!(title.starts_with(&format!("{}. ", i + 1)), "{title}");
        }
        let label = body["data"]["components"][0]["components"][0]["label"].as_str();
        assert_eq!(label, Some("More like 1"));
    }

    // "More like this" answers only the one who asked.
    let click = button(2002, &more).to_string();
    let (status, body) = post_interaction(addr, click.as_bytes(), Some(&key)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["flags"], 64, "ephemeral: {body}");

    // Bad signatures: 401, and nothing happens.
    let sub = slash(2003, "subscribe", json!([]), MEMBER_MANAGES, BOT_CAN_POST).to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let ts = ts.as_str();
    let sig = sign(&key, ts, sub.as_bytes());
    let tampered = sub.replace("general", "generat");
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/discord/interactions"))
        .header("x-signature-ed25519", sig)
        .header("x-signature-timestamp", ts)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _) = post_interaction(addr, sub.as_bytes(), Some(&wrong_key())).await;
    assert_eq!(status, 401);
    let (status, _) = post_interaction(addr, sub.as_bytes(), None).await;
    assert_eq!(status, 401);
    let (status, _) = post_interaction(addr, ping().to_string().as_bytes(), None).await;
    assert_eq!(status, 401, "even a PING must be signed");
    // Correctly signed six minutes ago: a replay, refused.
    let six_minutes_ago = chrono::Utc::now().timestamp() - 360;
    let (status, _) =
        post_interaction_signed_at(addr, sub.as_bytes(), Some(&key), six_minutes_ago).await;
    assert_eq!(status, 401, "a stale interaction is refused");
    assert!(
        t.app
            .store
            .subscription(&channel())
            .await
            .unwrap()
            .is_none()
    );

    // Correctly signed, the same request subscribes.
    let (status, body) = post_interaction(addr, sub.as_bytes(), Some(&key)).await;
    assert_eq!(status, 200);
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Subscribed"),
        "{body}"
    );
    assert!(
        t.app
            .store
            .subscription(&channel())
            .await
            .unwrap()
            .is_some()
    );
    running.stop();
}

#[tokio::test]
async fn a_slow_lookup_is_deferred_then_its_response_edited_with_the_answer() {
    // Discord waits 3 s for a first response: a lookup still running after 2 s is answered
    // "thinking…" (deferred), and its cards replace that response when ready.
    let fake = FakeDiscord::start().await;
    let embeddings = FakeEmbeddings::start().await;
    let t = TestApp::spawn_with(Options {
        extra: format!("{}{}", config(&fake, "interactions"), embeddings.config()),
        secrets: vec![("DISCORD_TOKEN", TOKEN.into())],
        ..Default::default()
    })
    .await;
    t.ingest().await;
    // The insights' own vectors first, so only the query waits below.
    assert!(!t.say("/related cider").await.cards.is_empty());
    let running = t.start().await;
    let addr = running.http_addr.expect("the HTTP server runs");
    embeddings.slow(Duration::from_millis(2_300));

    let related = related_cider(2101);
    let (status, body) = post_interaction(addr, related.as_bytes(), Some(&signing_key())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 5, "deferred: {body}");
    assert_eq!(
        body["data"]["allowed_mentions"]["parse"],
        json!([]),
        "{body}"
    );

    let edits = fake.wait_for("PATCH", "/messages/@original", 1).await;
    assert!(
        edits[0].path.contains(&format!("/webhooks/{APP_ID}/")),
        "{}",
        edits[0].path
    );
    let embeds = edits[0].body["embeds"].as_array().expect("cards as embeds");
    assert!(
        !embeds.is_empty() && embeds.len() <= 10,
        "{}",
        edits[0].body
    );
    assert!(embeds[0]["description"].as_str().unwrap().len() > 20);
    assert_eq!(edits[0].body["allowed_mentions"]["parse"], json!([]));
    let more = edits[0].body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default();
    assert!(more.starts_with("more:"), "{}", edits[0].body);
    running.stop();
}

#[tokio::test]
async fn member_without_manage_channels_cannot_subscribe() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let key = signing_key();

    let plain = slash(3001, "subscribe", json!([]), MEMBER_PLAIN, BOT_CAN_POST).to_string();
    let (status, body) = post_interaction(addr, plain.as_bytes(), Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["flags"], 64);
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Manage Channels"),
        "{body}"
    );
    let unsub = slash(3002, "unsubscribe", json!([]), MEMBER_PLAIN, BOT_CAN_POST).to_string();
    let (_, body) = post_interaction(addr, unsub.as_bytes(), Some(&key)).await;
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Manage Channels"),
        "{body}"
    );

    // A manager, but the bot may not embed links there: it says what is missing.
    let no_embeds = slash(3003, "subscribe", json!([]), MEMBER_MANAGES, "3072").to_string();
    let (_, body) = post_interaction(addr, no_embeds.as_bytes(), Some(&key)).await;
    let text = body["data"]["content"].as_str().unwrap();
    assert!(
        text.contains("Embed Links") && !text.contains("Send Messages"),
        "{text}"
    );

    // A bad option is explained, and changes nothing.
    let bad = slash(
        3004,
        "subscribe",
        json!([option(3, "timezone", json!("Mars/Olympus"))]),
        MEMBER_MANAGES,
        BOT_CAN_POST,
    )
    .to_string();
    let (_, body) = post_interaction(addr, bad.as_bytes(), Some(&key)).await;
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Mars/Olympus"),
        "{body}"
    );
    assert!(
        t.app
            .store
            .subscription(&channel())
            .await
            .unwrap()
            .is_none()
    );
    running.stop();
}

#[tokio::test]
async fn timezone_autocomplete_returns_at_most_25_matching_zones() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    t.ingest().await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let key = signing_key();
    for (typed, at_least) in [("Europe", 25), ("berl", 1), ("", 25)] {
        let req = autocomplete(4001, "subscribe", "timezone", typed).to_string();
        let (status, body) = post_interaction(addr, req.as_bytes(), Some(&key)).await;
        assert_eq!((status, body["type"].as_u64()), (200, Some(8)), "{body}");
        let choices = body["data"]["choices"].as_array().unwrap();
        assert!(
            choices.len() <= 25 && choices.len() >= at_least,
            "{typed}: {body}"
        );
        for c in choices {
            let name = c["name"].as_str().unwrap();
            assert!(
                name.to_lowercase().contains(&typed.to_lowercase()),
                "{typed}: {name}"
            );
            assert_eq!(c["value"], c["name"]);
        }
    }
    let berlin = autocomplete(4002, "subscribe", "timezone", "berl").to_string();
    let (_, body) = post_interaction(addr, berlin.as_bytes(), Some(&key)).await;
    assert_eq!(body["data"]["choices"][0]["value"], "Europe/Berlin");

    // /related suggests topics and podcasts that exist.
    let req = autocomplete(4003, "related", "query", "").to_string();
    let (_, body) = post_interaction(addr, req.as_bytes(), Some(&key)).await;
    let choices = body["data"]["choices"].as_array().unwrap();
    assert!(!choices.is_empty() && choices.len() <= 25, "{body}");
    running.stop();
}

#[tokio::test]
async fn brief_is_posted_as_embeds_with_a_nonce_and_no_mentions() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    t.ingest().await;
    // An insight whose text tries to ping everyone.
    let some = t.app.store.insights_after(0, 1).await.unwrap();
    let now = t.clock.now();
    t.app
        .store
        .insert_insights(
            some[0].episode_id,
            &[NewInsight {
                text:
                    "@everyone should know that tidal lagoons store 40% more energy than expected."
                        .into(),
                quote: "tidal lagoons store 40% more energy".into(),
                start_ms: Some(61_000),
                end_ms: Some(65_000),
                speaker: Some("Ana".into()),
                score: 1.0,
                topics: vec!["tidal lagoons".into()],
                chapter: None,
                origin: podbrief::core::model::Origin::extractive(),
            }],
            now,
        )
        .await
        .unwrap();
    let sub = subscribe(&t).await;
    let running = t.start().await;
    t.clock.set(sub.next_run_at);

    let posts = fake
        .wait_for("POST", &format!("/channels/{CHANNEL_ID}/messages"), 1)
        .await;
    let m = &posts[0].body;
    assert_eq!(posts[0].auth, format!("Bot {TOKEN}"));
    let nonce = m["nonce"].as_str().expect("a nonce");
    assert!(!nonce.is_empty() && nonce.len() <= 25, "{nonce}");
    assert_eq!(m["enforce_nonce"], true);
    assert_eq!(m["allowed_mentions"]["parse"], json!([]));
    assert_eq!(m["allowed_mentions"]["users"], json!([]));
    assert_eq!(m["allowed_mentions"]["roles"], json!([]));
    let embeds = m["embeds"].as_array().unwrap();
    assert!(!embeds.is_empty() && embeds.len() <= 10);
    let mut total = 0;
    for e in embeds {
        let title = e["title"].as_str().unwrap().chars().count();
        let description = e["description"].as_str().unwrap().chars().count();
        let footer = e["footer"]["text"].as_str().unwrap().chars().count();
        assert!(title <= 256 && description <= 4096 && footer <= 2048);
        total += title + description + footer;
    }
    assert!(total <= 6000);
    assert!(
        embeds.iter().any(|e| e["description"]
            .as_str()
            .unwrap()
            .contains("everyone should know")),
        "{m}"
    );
    assert_eq!(
        m["components"][0]["components"].as_array().unwrap().len(),
        embeds.len(),
        "one button per card"
    );
    running.stop();
}

#[tokio::test]
async fn rate_limited_brief_waits_then_sends() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    t.ingest().await;
    let sub = subscribe(&t).await;
    fake.script(Scripted {
        status: 429,
        headers: vec![
            ("retry-after", "1".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset-after", "0.3".into()),
            ("x-ratelimit-scope", "user".into()),
        ],
        body: json!({"message": "You are being rate limited.", "retry_after": 0.3, "global": false}),
    });
    let running = t.start().await;
    t.clock.set(sub.next_run_at);
    let posts = fake
        .wait_for("POST", &format!("/channels/{CHANNEL_ID}/messages"), 2)
        .await;
    let waited = posts[1].at - posts[0].at;
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(
        posts[0].body["nonce"], posts[1].body["nonce"],
        "a resend keeps its nonce"
    );
    // Recorded as sent: the subscription moved on to tomorrow and is not paused.
    for _ in 0..500 {
        let s = t.app.store.subscription(&channel()).await.unwrap().unwrap();
        if s.next_run_at > sub.next_run_at {
            assert!(s.paused_reason.is_none());
            running.stop();
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the brief was never recorded as sent");
}

#[tokio::test]
async fn forbidden_channel_pauses_the_subscription_with_a_reason_settings_shows() {
    let fake = FakeDiscord::start().await;
    let t = app(&fake, "interactions").await;
    t.ingest().await;
    let sub = subscribe(&t).await;
    fake.script(Scripted {
        status: 403,
        headers: vec![],
        body: json!({"message": "Missing Permissions", "code": 50013}),
    });
    let running = t.start().await;
    t.clock.set(sub.next_run_at);
    let reason = paused_reason(&t).await;
    assert!(reason.contains("permission"), "{reason}");
    assert_eq!(
        fake.matching("POST", "/messages").len(),
        1,
        "a gone channel is not retried"
    );

    let settings = slash(5001, "settings", json!([]), MEMBER_PLAIN, BOT_CAN_POST).to_string();
    let addr = running.http_addr.unwrap();
    let (_, body) = post_interaction(addr, settings.as_bytes(), Some(&signing_key())).await;
    let text = body["data"]["content"].as_str().unwrap();
    assert!(
        text.contains("Paused") && text.contains("permission"),
        "{text}"
    );
    running.stop();
}

#[tokio::test]
async fn a_rejected_token_stops_the_start_without_showing_the_token() {
    let fake = FakeDiscord::start().await;
    let secret = "NzkyNzE1NDU0MTk2MDg4ODQy.X-hvzA.wrong-secret-value";
    let t = TestApp::spawn_with(Options {
        extra: config(&fake, "gateway"),
        secrets: vec![("DISCORD_TOKEN", secret.into())],
        ..Default::default()
    })
    .await;
    let e = match t.app.start(None).await {
        Ok(_) => panic!("a rejected token must stop the start"),
        Err(e) => format!("{e:#} {e:?}"),
    };
    assert!(e.contains("rejected the bot token"), "{e}");
    assert!(!e.contains("wrong-secret-value"), "{e}");
}

#[tokio::test]
async fn instances_split_the_gateway_shards_by_config() {
    // Two instances of one bot: the first runs shards 0 and 1 of 3, the second shard 2.
    let fake = FakeDiscord::start().await;
    let with_shards = |shards: &str| Options {
        extra: config(&fake, "gateway").replace(
            "[discord]\n",
            &format!("[discord]\nshards = \"{shards}\"\n"),
        ),
        secrets: vec![("DISCORD_TOKEN", TOKEN.into())],
        ..Default::default()
    };
    let a = TestApp::spawn_with(with_shards("0-1/3")).await;
    let b = TestApp::spawn_with(with_shards("2/3")).await;
    let (ra, rb) = (a.start().await, b.start().await);
    // serenity starts a process's shards 5 s apart, as Discord asks.
    for _ in 0..3000 {
        if fake.identified_shards().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut shards = fake.identified_shards();
    shards.sort();
    assert_eq!(
        shards,
        vec![(0, 3), (1, 3), (2, 3)],
        "each shard identified once"
    );
    ra.shutdown().await;
    rb.shutdown().await;
}

#[tokio::test]
async fn follow_ups_wait_for_the_first_response_and_each_is_retried_until_posted_once() {
    use podbrief::adapters::discord::interact::{FollowUp, Handler};
    use podbrief::adapters::discord::render::Rendered;
    let fake = FakeDiscord::start().await;
    let t = TestApp::spawn().await;
    let http = std::sync::Arc::new(
        serenity::all::HttpBuilder::new(TOKEN)
            .proxy(fake.base.clone())
            .ratelimiter_disabled(true)
            .application_id(APP_ID.parse::<u64>().unwrap().into())
            .build(),
    );
    let handler = Handler::new(t.app.core.clone(), http, TOKEN.into());
    let parts: Vec<Rendered> = (1..=3)
        .map(|i| Rendered {
            content: format!("part {i}"),
            ..Rendered::default()
        })
        .collect();
    // Discord fails the first follow-up twice (a server error, then a rate limit).
    fake.fail_next_followups(&[500, 429]);
    handler
        .follow_up("interaction-token", FollowUp::More(parts), false, false)
        .await;
    let original = fake.matching("GET", "/messages/@original");
    assert_eq!(original.len(), 1, "the first response was checked first");
    let posts = fake.matching("POST", "/webhooks/");
    assert!(original[0].at <= posts[0].at);
    let contents: Vec<&str> = posts
        .iter()
        .map(|p| p.body["content"].as_str().unwrap())
        .collect();
    // Two refused tries of part 1, then each part posted once, in order.
    assert_eq!(contents, ["part 1", "part 1", "part 1", "part 2", "part 3"]);
    assert!(posts[1].at - posts[0].at >= Duration::from_millis(500));
    assert!(posts[2].at - posts[1].at >= Duration::from_millis(1000));
}
