//! Telegram users meet podbrief by messaging it; teloxide talks to a fake Bot API on 127.0.0.1.

use chrono::Duration;
use podbrief::adapters::telegram::send::TelegramSender;
use podbrief::core::model::{Card, ChatRef, Platform, Reply};
use podbrief::deliver::Sender;
use serde_json::{Value, json};

use crate::support::telegram::{
    self, BOT_ID, FakeTelegram, TOKEN, channel_chat, group_chat, message, private_chat,
};
use crate::support::{BotProcess, Options, TestApp, captured_logs};

async fn telegram_app(fake: &FakeTelegram, extra: &str) -> TestApp {
    let t = TestApp::spawn_with(Options {
        extra: format!("{}{extra}", fake.config()),
        secrets: vec![
            ("TELEGRAM_BOT_TOKEN", TOKEN.into()),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret-token_1".into()),
        ],
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.feed_errors.is_empty());
    t
}

fn chat(id: i64) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: id.to_string(),
        thread_id: None,
    }
}

fn texts(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_user_starts_subscribes_and_reads_their_settings() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    let menu = fake.wait_calls("setmycommands", 1).await;
    let names: Vec<&str> = menu[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    for c in [
        "top",
        "related",
        "subscribe",
        "unsubscribe",
        "settings",
        "time",
        "size",
        "topics",
        "help",
        "start",
    ] {
        assert!(names.contains(&c), "{c} missing from the menu: {names:?}");
    }

    for text in [
        "/start",
        "/subscribe 07:30 Asia/Tokyo",
        "/settings@podbrief_bot",
    ] {
        fake.push_update(message(private_chat(501), Some(501), text));
    }
    let sent = texts(&fake.wait_calls("sendmessage", 3).await);
    assert!(sent[0].starts_with("Hi! I'm podbrief."), "{}", sent[0]);
    assert!(
        sent[1].contains("every day at 07:30 (Asia/Tokyo)"),
        "{}",
        sent[1]
    );
    assert!(
        sent[2].contains("Daily brief: every day at 07:30 (Asia/Tokyo)"),
        "{}",
        sent[2]
    );
    let sub = t
        .app
        .store
        .subscription(&chat(501))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        (sub.schedule.as_str(), sub.timezone.as_str()),
        ("07:30", "Asia/Tokyo")
    );
    assert_eq!(fake.calls("sendmessage")[0]["parse_mode"], "HTML");
    // Polling started clean: the webhook deleted first, every handled update kind asked for.
    assert_eq!(fake.count("deletewebhook"), 1);
    let poll = &fake.calls("getupdates")[0];
    assert_eq!(poll["timeout"], 25);
    let kinds = poll["allowed_updates"].as_array().unwrap();
    for kind in [
        "message",
        "channel_post",
        "callback_query",
        "my_chat_member",
    ] {
        assert!(
            kinds.contains(&json!(kind)),
            "{kind} not asked for: {kinds:?}"
        );
    }
    running.stop();
}

#[tokio::test]
async fn in_groups_only_admins_subscribe_and_channels_need_posting_rights() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    let group = -100_200;
    fake.set_member(group, 7, json!({"status": "member"}));
    fake.set_member(group, 8, json!({"status": "administrator", "can_be_edited": false, "can_manage_chat": true,
        "can_change_info": true, "can_delete_messages": true, "can_invite_users": true, "can_restrict_members": true,
        "can_pin_messages": true, "can_promote_members": false, "can_manage_video_chats": true, "is_anonymous": false,
        "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false, "can_manage_topics": false}));

    fake.push_update(message(
        group_chat(group),
        Some(7),
        "/subscribe@podbrief_bot 08:00",
    ));
    let sent = texts(&fake.wait_calls("sendmessage", 1).await);
    assert_eq!(
        sent[0],
        "Only the chat's admins can change its subscription."
    );
    assert!(
        t.app
            .store
            .subscription(&chat(group))
            .await
            .unwrap()
            .is_none(),
        "nothing stored"
    );

    fake.push_update(message(
        group_chat(group),
        Some(8),
        "/subscribe 08:00 Europe/Berlin",
    ));
    fake.wait_calls("sendmessage", 2).await;
    assert!(
        t.app
            .store
            .subscription(&chat(group))
            .await
            .unwrap()
            .is_some()
    );
    // A command for another bot is not ours.
    fake.push_update(message(group_chat(group), Some(7), "/top@otherbot"));
    // A channel post where the bot may post.
    let channel = -100_300;
    fake.set_member(channel, BOT_ID, json!({"status": "administrator", "can_be_edited": false, "can_manage_chat": true,
        "can_change_info": false, "can_delete_messages": false, "can_invite_users": false, "can_restrict_members": false,
        "can_pin_messages": false, "can_promote_members": false, "can_manage_video_chats": false, "is_anonymous": false,
        "can_post_messages": true, "can_edit_messages": false, "can_post_stories": false, "can_edit_stories": false,
        "can_delete_stories": false}));
    let mut post = message(channel_chat(channel), None, "/subscribe 09:00");
    post["channel_post"] = post["message"].take();
    post.as_object_mut().unwrap().remove("message");
    fake.push_update(post);
    let sent = texts(&fake.wait_calls("sendmessage", 3).await);
    assert_eq!(sent.len(), 3, "/top@otherbot got no answer: {sent:?}");
    assert!(sent[2].starts_with("Subscribed"), "{}", sent[2]);
    assert!(
        t.app
            .store
            .subscription(&chat(channel))
            .await
            .unwrap()
            .is_some()
    );
    running.stop();
}

#[tokio::test]
async fn lookups_return_cards_and_more_like_this_answers_the_button() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    fake.push_update(message(private_chat(501), Some(501), "related to Orkney"));
    fake.push_update(message(
        private_chat(501),
        Some(501),
        "/related tidal <b>lagoons</b> & 🌊",
    ));
    let calls = fake.wait_calls("sendmessage", 2).await;
    let first = calls[0]["text"].as_str().unwrap();
    assert!(first.contains("Wave Energy Buoys"), "{first}");
    let second = calls[1]["text"].as_str().unwrap();
    assert!(
        second.starts_with("Related to &quot;tidal &lt;b&gt;lagoons&lt;/b&gt; &amp; 🌊&quot;"),
        "{second}"
    );
    assert_eq!(calls[1]["link_preview_options"]["is_disabled"], true);
    let button = &calls[0]["reply_markup"]["inline_keyboard"][0][0];
    let data = button["callback_data"].as_str().unwrap().to_string();
    assert!(data.starts_with("more:") && data.len() <= 64, "{data}");
    // The card shows the id that "More like" answers with and `/more` takes.
    let id = data.trim_start_matches("more:");
    assert!(first.contains(&format!(" · #{id}")), "{first}");

    let msg = json!({"message_id": 77, "date": 1_700_000_000, "chat": private_chat(501), "text": "cards"});
    fake.push_update(
        json!({"callback_query": {"id": "cb-1", "from": telegram::user(501), "chat_instance": "1",
        "message": msg, "data": data}}),
    );
    let answered = fake.wait_calls("answercallbackquery", 1).await;
    assert_eq!(answered[0]["callback_query_id"], "cb-1");
    let calls = fake.wait_calls("sendmessage", 3).await;
    assert!(
        calls[2]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("More like #{id}:")),
        "{}",
        calls[2]["text"]
    );
    running.stop();
}

#[tokio::test]
async fn a_long_brief_is_split_into_valid_messages() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let bot = teloxide::Bot::new(TOKEN).set_api_url(fake.base.parse().unwrap());
    let sender = TelegramSender::new(
        bot,
        TOKEN.into(),
        &t.app.config.telegram,
        t.app.core.clone(),
    );
    let long = "Tidal power is predictable & steady. ".repeat(30);
    let cards: Vec<Card> = (1..=10)
        .map(|i| Card {
            insight_id: i,
            text: long.clone(),
            quote: long.clone(),
            podcast: "Tidal Talk".into(),
            episode: "Ep".into(),
            chapter: None,
            link: None,
            start_ms: Some(1000),
            speaker: None,
            topics: vec![],
        })
        .collect();
    let ids = sender
        .send(
            &chat(501),
            &Reply {
                text: "Brief".into(),
                cards,
            },
        )
        .await
        .unwrap();
    assert!(ids.len() > 1, "split into several messages");
    for c in fake.calls("sendmessage") {
        let html = c["text"].as_str().unwrap();
        assert!(podbrief::adapters::telegram::render::visible_len(html) <= 4096);
    }
}

#[tokio::test]
async fn flood_control_delays_the_brief_and_a_block_pauses_the_subscription() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "[delivery]\nconcurrency = 1\n").await;
    let running = t.start().await;
    fake.push_update(message(
        private_chat(501),
        Some(501),
        "/subscribe 07:30 Asia/Tokyo",
    ));
    fake.push_update(message(
        private_chat(502),
        Some(502),
        "/subscribe 07:30 Asia/Tokyo",
    ));
    fake.wait_calls("sendmessage", 2).await;

    fake.fail_next_send(429, json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}));
    fake.fail_next_send(403, json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}));
    // 07:30 in Tokyo is 22:30 UTC.
    t.clock.advance(Duration::hours(16) + Duration::minutes(30));
    let calls = fake.wait_calls("sendmessage", 5).await;
    let times = fake.call_times("sendmessage");
    // Send 3 got the 429; the next send waited out retry_after.
    assert!(
        times[3] - times[2] >= std::time::Duration::from_millis(1000),
        "{:?}",
        times[3] - times[2]
    );
    let briefs: Vec<&Value> = calls[2..].iter().collect();
    assert!(
        briefs
            .iter()
            .all(|c| c["text"].as_str().unwrap().starts_with("podbrief for"))
    );

    // One of the two chats answered 403 "blocked": its subscription is paused, with the reason.
    let mut paused = 0;
    for id in [501, 502] {
        let s = t.app.store.subscription(&chat(id)).await.unwrap().unwrap();
        if let Some(r) = s.paused_reason {
            assert_eq!(r, "the bot was blocked by the user");
            paused += 1;
        }
    }
    assert_eq!(paused, 1);
    running.stop();
}

#[tokio::test]
async fn webhook_mode_refuses_a_wrong_secret_and_handles_the_right_one() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "mode = \"webhook\"\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://bot.example.com/\"\n").await;
    let running = t.start().await;
    let set = fake.wait_calls("setwebhook", 1).await;
    assert_eq!(set[0]["url"], "https://bot.example.com/telegram/webhook");
    let url = format!("http://{}/telegram/webhook", running.http_addr.unwrap());
    let update = json!({"update_id": 1, "message": message(private_chat(501), Some(501), "/help")["message"]});
    let http = reqwest::Client::new();
    for secret in [None, Some("wrong")] {
        let mut req = http.post(&url).json(&update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    let ok = http
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret-token_1")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let sent = fake.wait_calls("sendmessage", 1).await;
    assert!(
        sent[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("What I can do:")
    );
    assert_eq!(
        fake.calls("sendmessage").len(),
        1,
        "the refused requests did nothing"
    );
    running.stop();
}

#[tokio::test]
async fn the_token_never_appears_in_logs_or_errors() {
    // Telegram unreachable: the error says so without the token.
    let t = TestApp::spawn_with(Options {
        extra: "[telegram]\nenabled = true\napi_url = \"http://127.0.0.1:9\"\n".into(),
        secrets: vec![("TELEGRAM_BOT_TOKEN", TOKEN.into())],
        ..Default::default()
    })
    .await;
    let err = t
        .app
        .start(None)
        .await
        .err()
        .expect("cannot connect")
        .to_string();
    assert!(err.contains("Telegram") && !err.contains(TOKEN), "{err}");
    let secret_part = TOKEN.split(':').nth(1).unwrap();
    // Exercise errors that carry request URLs, then read everything logged by every test so far.
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    fake.fail_next_send(
        400,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: message is too long"}),
    );
    fake.push_update(message(private_chat(9), Some(9), "/help"));
    fake.wait_calls("sendmessage", 1).await;
    for _ in 0..500 {
        if captured_logs().contains("could not answer on Telegram") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    running.stop();
    let logs = captured_logs();
    assert!(
        logs.contains("could not answer on Telegram"),
        "the failed answer was logged: {}",
        &logs[logs.len().saturating_sub(3000)..]
    );
    assert!(!logs.is_empty());
    assert!(
        !logs.contains(TOKEN) && !logs.contains(secret_part),
        "the token leaked into the logs"
    );
}

#[tokio::test]
async fn topics_removals_and_migrations_keep_the_subscription_in_the_right_place() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    let group = -100_400;
    // An anonymous admin (posting as the group) subscribes from a forum topic.
    let mut m = message(
        json!({"id": group, "type": "supergroup", "title": "Forum", "is_forum": true}),
        None,
        "/subscribe 08:00",
    );
    m["message"]["sender_chat"] = json!({"id": group, "type": "supergroup", "title": "Forum"});
    m["message"]["is_topic_message"] = json!(true);
    m["message"]["message_thread_id"] = json!(42);
    fake.push_update(m);
    let sent = fake.wait_calls("sendmessage", 1).await;
    assert_eq!(
        sent[0]["message_thread_id"], 42,
        "the answer goes to the topic"
    );
    let topic = ChatRef {
        platform: Platform::Telegram,
        chat_id: group.to_string(),
        thread_id: Some("42".into()),
    };
    assert!(t.app.store.subscription(&topic).await.unwrap().is_some());

    // The group becomes a supergroup with a new id: the subscription follows.
    let new_id = -100_500;
    let mut migrated = message(group_chat(group), Some(8), "");
    migrated["message"].as_object_mut().unwrap().remove("text");
    migrated["message"]["migrate_to_chat_id"] = json!(new_id);
    fake.push_update(migrated);
    let moved = ChatRef {
        chat_id: new_id.to_string(),
        ..topic.clone()
    };
    let mut found = None;
    for _ in 0..300 {
        found = t.app.store.subscription(&moved).await.unwrap();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(found.is_some(), "the subscription moved to the new chat id");

    // The bot is removed from the chat: paused, with the reason.
    fake.push_update(json!({"my_chat_member": {"chat": group_chat(new_id), "from": telegram::user(8), "date": 1_700_000_000,
        "old_chat_member": {"status": "member", "user": {"id": BOT_ID, "is_bot": true, "first_name": "podbrief"}},
        "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": BOT_ID, "is_bot": true, "first_name": "podbrief"}}}}));
    let mut reason = None;
    for _ in 0..300 {
        reason = t
            .app
            .store
            .subscription(&moved)
            .await
            .unwrap()
            .and_then(|s| s.paused_reason);
        if reason.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(reason.as_deref(), Some("the bot was removed from the chat"));
    running.stop();
}

fn sent_to(fake: &FakeTelegram, chat: i64) -> Vec<String> {
    texts(
        &fake
            .calls("sendmessage")
            .into_iter()
            .filter(|c| c["chat_id"] == chat)
            .collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn a_slow_chat_does_not_delay_another_while_each_chat_is_answered_in_order() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let group = -100_300;
    fake.set_member(
        group,
        7,
        json!({"status": "creator", "is_anonymous": false}),
    );
    // The group's admin check takes 2 s.
    fake.slow_member_lookups(group, std::time::Duration::from_secs(2));
    let running = t.start().await;
    fake.push_update(message(
        group_chat(group),
        Some(7),
        "/subscribe@podbrief_bot 08:00",
    ));
    fake.push_update(message(
        group_chat(group),
        Some(7),
        "/settings@podbrief_bot",
    ));
    fake.push_update(message(private_chat(501), Some(501), "/start"));
    fake.push_update(message(private_chat(501), Some(501), "/help"));
    let asked = std::time::Instant::now();
    fake.wait_calls("sendmessage", 2).await;
    assert!(
        asked.elapsed() < std::time::Duration::from_millis(1500),
        "the private chat waited for the group's admin check: {:?}",
        asked.elapsed()
    );
    let private = sent_to(&fake, 501);
    assert!(private[0].starts_with("Hi! I'm podbrief."), "{private:?}");
    assert!(private[1].contains("/subscribe"), "{private:?}");
    assert!(sent_to(&fake, group).is_empty());

    fake.wait_calls("sendmessage", 4).await;
    // The group's two commands in the order they were sent: /settings sees the subscription.
    let answers = sent_to(&fake, group);
    assert!(answers[0].contains("every day at 08:00"), "{answers:?}");
    assert!(
        answers[1].contains("Daily brief: every day at 08:00"),
        "{answers:?}"
    );
    running.stop();
}

#[tokio::test]
async fn a_429_with_its_wait_only_described_or_with_none_is_retried_and_delivered() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    fake.fail_next_send(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1"}),
    );
    fake.fail_next_send(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests"}),
    );
    fake.fail_next_send(
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    );
    fake.push_update(message(private_chat(501), Some(501), "/start"));
    let calls = texts(&fake.wait_calls("sendmessage", 4).await);
    assert!(calls.iter().all(|c| c.starts_with("Hi! I'm podbrief.")));
    let times = fake.call_times("sendmessage");
    assert!(times[1] - times[0] >= std::time::Duration::from_secs(1));
    assert!(times[2] - times[1] >= std::time::Duration::from_secs(1));
    // Delivered once, and nothing more is sent.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.count("sendmessage"), 4);
    running.stop();
}

#[tokio::test]
async fn one_chats_retry_wait_does_not_hold_another_chat() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    fake.fail_next_send(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}}),
    );
    fake.push_update(message(private_chat(501), Some(501), "/start"));
    fake.wait_calls("sendmessage", 1).await;
    let limited = std::time::Instant::now();
    fake.push_update(message(private_chat(502), Some(502), "/start"));
    fake.wait_calls("sendmessage", 2).await;
    assert!(
        limited.elapsed() < std::time::Duration::from_secs(2),
        "chat 502 waited behind chat 501's retry-after: {:?}",
        limited.elapsed()
    );
    assert_eq!(sent_to(&fake, 502).len(), 1);
    fake.wait_calls("sendmessage", 3).await;
    assert!(limited.elapsed() >= std::time::Duration::from_millis(2900));
    assert_eq!(sent_to(&fake, 501).len(), 2);
    running.stop();
}

#[tokio::test]
async fn sigterm_while_answering_then_a_restart_answers_the_update_once() {
    let fake = FakeTelegram::start().await;
    fake.slow_sends(std::time::Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("bot.toml");
    let feeds = crate::support::fixtures().join("feeds");
    std::fs::write(
        &config_path,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{:?}]\n{}",
            dir.path().join("bot.db").display(),
            feeds.join("tides.xml").display().to_string(),
            fake.config(),
        ),
    )
    .unwrap();
    let mut bot = BotProcess::start(&config_path);
    fake.wait_calls("getupdates", 1).await;
    fake.push_update(message(private_chat(501), Some(501), "/start"));
    // SIGTERM while the answer is on its way.
    fake.wait_calls("sendmessage", 1).await;
    let status = bot.terminate().await;
    assert!(status.success(), "{status:?}");
    assert_eq!(
        fake.confirmed_offset(),
        1002,
        "the handled update was confirmed"
    );

    let _bot = BotProcess::start(&config_path);
    let polls = fake.count("getupdates");
    fake.wait_calls("getupdates", polls + 2).await;
    fake.push_update(message(private_chat(501), Some(501), "/help"));
    let sent = texts(&fake.wait_calls("sendmessage", 2).await);
    assert!(sent[0].starts_with("Hi! I'm podbrief."), "{sent:?}");
    assert!(sent[1].contains("/subscribe"), "{sent:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.count("sendmessage"), 2, "answered once: {sent:?}");
}

#[tokio::test]
async fn an_unknown_command_in_a_group_gets_no_answer_unless_addressed_to_podbrief() {
    let fake = FakeTelegram::start().await;
    let t = telegram_app(&fake, "").await;
    let running = t.start().await;
    let group = -100_400;
    fake.push_update(message(group_chat(group), Some(7), "/report spam"));
    fake.push_update(message(group_chat(group), Some(7), "/report@podbrief_bot"));
    fake.push_update(message(private_chat(501), Some(501), "/report"));
    fake.wait_calls("sendmessage", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let in_group = sent_to(&fake, group);
    assert_eq!(in_group.len(), 1, "{in_group:?}");
    assert!(in_group[0].contains("/report"), "{in_group:?}");
    let private = sent_to(&fake, 501);
    assert_eq!(private.len(), 1);
    assert!(
        private[0].contains("/help"),
        "the help hint stays: {private:?}"
    );
    running.stop();
}
