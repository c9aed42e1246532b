//! The Telegram adapter (teloxide): updates from long polling or a webhook become core commands;
//! replies and briefs go out as HTML messages through [`send::TelegramSender`].
//!
//! * Private chats: anyone; any plain text is a lookup.
//! * Groups and supergroups: only administrators (checked with `getChatMember`; an anonymous
//!   admin posting as the group counts) change the subscription; plain text is a lookup only when
//!   it reads "related to …". A subscription made in a forum topic posts into that topic.
//! * Channels: commands arrive as channel posts; the bot must be allowed to post.
//! * Losing access (`my_chat_member`: kicked, left, blocked) pauses the subscription; a group that
//!   becomes a supergroup takes its subscription along.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, Me, UpdateKind, UserId};
use teloxide::update_listeners::UpdateListener;
use teloxide::update_listeners::webhooks;
use tracing::{info, warn};

use super::Connection;
use crate::config::{Config, TelegramMode};
use crate::core::command::{CATALOGUE, Command, CommandError, ParseContext};
use crate::core::model::{ChatRef, Platform, Reply};
use crate::core::{Core, UserContext};

pub mod render;
pub mod send;
pub mod updates;

use send::{TelegramSender, answer, redact};

struct Ctx {
    core: Arc<Core>,
    bot: Bot,
    me: Me,
    sender: Arc<TelegramSender>,
    token: String,
}

/// Connects to Telegram: checks the token (`getMe`), sets the command menu, and starts
/// receiving updates by long polling or through the webhook route it returns.
pub async fn connect(core: Arc<Core>, config: &Config) -> anyhow::Result<Connection> {
    let tg = &config.telegram;
    let token = config
        .secret(&tg.token_env)
        .with_context(|| format!("telegram.enabled is true but the environment variable {} (telegram.token_env) is not set", tg.token_env))?;
    let token = token.expose().to_string();
    let api = url::Url::parse(&tg.api_url).context("telegram.api_url")?;
    let client = teloxide::net::default_reqwest_settings()
        .timeout(updates::CLIENT_TIMEOUT)
        .build()
        .context("building the Telegram HTTP client")?;
    let bot = Bot::with_client(token.clone(), client).set_api_url(api);
    let me = bot.get_me().await.map_err(|e| {
        anyhow::anyhow!(
            "Telegram rejected the bot token or is unreachable: {}",
            redact(&e.to_string(), &token)
        )
    })?;
    set_menu(&bot, &token).await;
    let sender = Arc::new(
        TelegramSender::new(bot.clone(), token.clone(), tg, core.clone())
            .with_pages(&config.http.public_url),
    );
    let ctx = Arc::new(Ctx {
        core,
        bot: bot.clone(),
        me,
        sender: sender.clone(),
        token: token.clone(),
    });
    info!(bot = %ctx.me.username(), mode = ?tg.mode, "connected to Telegram");
    let core = ctx.core.clone();
    let dispatcher = updates::Dispatcher::new(ctx);
    let (stop, stopping) = tokio::sync::watch::channel(false);

    let (task, routes) = match tg.mode {
        TelegramMode::Polling => {
            // A webhook left from webhook mode would answer every poll with 409.
            if let Err(e) = bot.delete_webhook().await {
                warn!(error = %redact(&e.to_string(), &token), "could not delete the Telegram webhook before polling");
            }
            let task = poll_while_holding_lock(bot, core, dispatcher, stopping);
            (tokio::spawn(task), None)
        }
        TelegramMode::Webhook => {
            let (listener, router) = webhook(bot, config, &token).await?;
            let task = updates::consume(listener, dispatcher, stopping);
            (tokio::spawn(task), Some(router))
        }
    };
    Ok(Connection {
        platform: Platform::Telegram,
        sender,
        routes,
        tasks: Vec::new(),
        stoppable: Some((stop, task)),
    })
}

/// Sets the command menu Telegram clients show (`setMyCommands`) from the core's catalogue;
/// a failure is only warned.
async fn set_menu(bot: &Bot, token: &str) {
    let commands: Vec<BotCommand> = CATALOGUE
        .iter()
        .filter(|c| c.in_menu)
        .map(|c| BotCommand::new(c.name, c.about))
        .collect();
    if let Err(e) = bot.set_my_commands(commands).await {
        warn!(error = %redact(&e.to_string(), token), "could not set the Telegram command menu");
    }
}

/// Registers the webhook (`public_url` + `telegram/webhook`, with the secret) and returns the
/// stream of updates it receives and the route to mount.
async fn webhook(
    bot: Bot,
    config: &Config,
    token: &str,
) -> anyhow::Result<(
    impl UpdateListener<Err = std::convert::Infallible> + use<>,
    axum::Router,
)> {
    let tg = &config.telegram;
    let secret = config.secret(&tg.webhook_secret_env).with_context(|| {
        format!(
            "telegram.mode is \"webhook\" but {} (telegram.webhook_secret_env) is not set",
            tg.webhook_secret_env
        )
    })?;
    let public = url::Url::parse(&config.http.public_url).context("http.public_url")?;
    let url = public
        .join("telegram/webhook")
        .context("building the webhook URL")?;
    let address = config.http.listen.parse().context("http.listen")?;
    let options = webhooks::Options::new(address, url)
        .path("/telegram/webhook".into())
        .secret_token(secret.expose().to_string());
    let (listener, _stop, router) = webhooks::axum_to_router(bot, options).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot set the Telegram webhook: {}",
            redact(&e.to_string(), token)
        )
    })?;
    Ok((listener, router))
}

/// How often an instance that does not poll asks for the polling lock again.
const POLL_LOCK_RETRY: Duration = Duration::from_secs(3);
/// How often the polling instance checks that it still holds the lock.
const POLL_LOCK_CHECK: Duration = Duration::from_secs(5);

/// Long polling on one instance at a time (Telegram answers 409 to a second poller): the
/// instance holding the store's `telegram-polling` lock polls; the others ask again every few
/// seconds and take over when the holder dies (with PostgreSQL, its lock connection closes).
/// Updates the holder fetched but had not yet confirmed are fetched again by the next holder.
/// Ends once `stop` is set, after confirming the handled updates.
async fn poll_while_holding_lock(
    bot: Bot,
    core: Arc<Core>,
    dispatcher: Arc<updates::Dispatcher>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut standing_by = false;
    while !*stop.borrow() {
        match core.try_lock("telegram-polling").await {
            Ok(Some(mut lock)) => {
                standing_by = false;
                info!("this instance polls Telegram for updates");
                tokio::select! {
                    _ = updates::poll(&bot, &dispatcher, &mut stop) => {}
                    _ = lock.lost(POLL_LOCK_CHECK) => {
                        warn!("lost the Telegram polling lock; polling stops until it is taken again");
                    }
                }
            }
            Ok(None) if !standing_by => {
                standing_by = true;
                info!("another instance polls Telegram; standing by to take over");
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "cannot take the Telegram polling lock"),
        }
        tokio::select! {
            _ = updates::stopped(&mut stop) => {}
            _ = tokio::time::sleep(POLL_LOCK_RETRY) => {}
        }
    }
}

/// Handles one update.
async fn on_update(ctx: &Ctx, update: Update) {
    match update.kind {
        UpdateKind::Message(m) | UpdateKind::ChannelPost(m) => on_message(ctx, m).await,
        UpdateKind::CallbackQuery(q) => on_callback(ctx, q).await,
        UpdateKind::MyChatMember(m) => on_membership(ctx, m).await,
        _ => {}
    }
}

fn chat_ref(msg: &Message) -> ChatRef {
    let thread = msg
        .thread_id
        .filter(|_| msg.is_topic_message)
        .map(|t| t.0.0.to_string());
    ChatRef {
        platform: Platform::Telegram,
        chat_id: msg.chat.id.0.to_string(),
        thread_id: thread,
    }
}

async fn on_message(ctx: &Ctx, msg: Message) {
    let chat = chat_ref(&msg);
    if let Some(new) = msg.migrate_to_chat_id() {
        match ctx.core.chat_migrated(&chat, &new.0.to_string()).await {
            Ok(true) => {
                info!(from = %chat.chat_id, to = new.0, "group became a supergroup; subscription moved")
            }
            Ok(false) => {}
            Err(e) => warn!(error = %e, "could not move a migrated chat's subscription"),
        }
        return;
    }
    let Some(text) = msg.text() else { return };
    let parse = ParseContext {
        bot_username: Some(ctx.me.username()),
        plain_text_is_lookup: msg.chat.is_private(),
    };
    let cmd = match Command::parse(text, parse) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e @ CommandError::Unknown(_))
            if !msg.chat.is_private() && !addressed_to(text, ctx.me.username()) =>
        {
            // In a group an unknown command is likely meant for another bot: stay quiet.
            tracing::debug!(chat = msg.chat.id.0, error = %e, "unknown command in a group ignored");
            return;
        }
        Err(e @ CommandError::Usage { .. }) | Err(e @ CommandError::Unknown(_)) => {
            reply(ctx, &chat, &Reply::text(e.to_string())).await;
            return;
        }
    };
    let mut can_manage = true;
    if cmd.needs_chat_admin() {
        if msg.chat.is_group() || msg.chat.is_supergroup() {
            can_manage = is_admin(ctx, &msg).await;
        } else if msg.chat.is_channel()
            && matches!(cmd, Command::Subscribe { .. })
            && !can_post(ctx, msg.chat.id).await
        {
            // It may not be able to say so in the channel either; try, and log.
            warn!(
                chat = msg.chat.id.0,
                "subscribe in a channel where the bot may not post"
            );
            reply(ctx, &chat, &Reply::text("I need the \"Post messages\" admin right in this channel to deliver the brief. Grant it, then send /subscribe again.")).await;
            return;
        }
    }
    let user = UserContext {
        chat: chat.clone(),
        user_id: msg.from.as_ref().map(|u| u.id.0.to_string()),
        can_manage,
        scope_id: None,
    };
    let answer_reply = ctx.core.handle(&user, cmd).await;
    reply(ctx, &chat, &answer_reply).await;
}

/// Whether a command names the bot (`/report@podbrief_bot`).
fn addressed_to(text: &str, username: &str) -> bool {
    text.split_whitespace()
        .next()
        .and_then(|head| head.split_once('@'))
        .is_some_and(|(_, to)| to.eq_ignore_ascii_case(username))
}

/// Whether the sender of a group message is one of its administrators.
async fn is_admin(ctx: &Ctx, msg: &Message) -> bool {
    // An anonymous administrator posts as the group itself.
    if msg
        .sender_chat
        .as_ref()
        .is_some_and(|c| c.id == msg.chat.id)
    {
        return true;
    }
    let Some(user) = &msg.from else { return false };
    match ctx.bot.get_chat_member(msg.chat.id, user.id).await {
        Ok(m) => m.is_privileged(),
        Err(e) => {
            warn!(error = %redact(&e.to_string(), &ctx.token), "getChatMember failed; treating the user as not an admin");
            false
        }
    }
}

async fn can_post(ctx: &Ctx, chat: ChatId) -> bool {
    let me: UserId = ctx.me.id;
    match ctx.bot.get_chat_member(chat, me).await {
        Ok(m) => m.is_owner() || (m.is_administrator() && m.can_post_messages()),
        Err(_) => false,
    }
}

async fn reply(ctx: &Ctx, chat: &ChatRef, r: &Reply) {
    if let Err(e) = answer(&ctx.sender, chat, r).await {
        warn!(chat = %chat.chat_id, error = %e, "could not answer on Telegram");
    }
}

async fn on_callback(ctx: &Ctx, q: CallbackQuery) {
    // Always answer the query, so the button stops spinning.
    let answer_call = ctx.bot.answer_callback_query(q.id.clone());
    if let Err(e) = answer_call.await {
        warn!(error = %redact(&e.to_string(), &ctx.token), "answerCallbackQuery failed");
    }
    let Some(id) = q
        .data
        .as_deref()
        .and_then(|d| d.strip_prefix("more:"))
        .and_then(|d| d.parse::<i64>().ok())
    else {
        return;
    };
    let Some(message) = q.message.as_ref() else {
        return;
    };
    let chat = match message.regular_message() {
        Some(m) => chat_ref(m),
        None => ChatRef {
            platform: Platform::Telegram,
            chat_id: message.chat().id.0.to_string(),
            thread_id: None,
        },
    };
    let user = UserContext {
        chat: chat.clone(),
        user_id: Some(q.from.id.0.to_string()),
        can_manage: false,
        scope_id: None,
    };
    let r = ctx.core.handle(&user, Command::More(id)).await;
    reply(ctx, &chat, &r).await;
}

async fn on_membership(ctx: &Ctx, m: ChatMemberUpdated) {
    if m.new_chat_member.user.id != ctx.me.id {
        return;
    }
    let kind = &m.new_chat_member;
    if kind.is_left() || kind.is_banned() {
        let reason = if m.chat.is_private() {
            "the bot was blocked by the user"
        } else {
            "the bot was removed from the chat"
        };
        let chat = ChatRef {
            platform: Platform::Telegram,
            chat_id: m.chat.id.0.to_string(),
            thread_id: None,
        };
        match ctx.core.chat_lost(&chat, reason).await {
            Ok(true) => info!(chat = m.chat.id.0, reason, "subscription paused"),
            Ok(false) => {}
            Err(e) => warn!(error = %e, "could not pause a subscription"),
        }
    }
}
