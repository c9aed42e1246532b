//! The Discord adapter (serenity): slash commands and buttons become core commands; replies and
//! briefs go out as embeds.
//!
//! * Two modes: the gateway (default; no public URL needed) or the HTTP interactions endpoint
//!   (`discord.mode = "interactions"`, see [`interactions`]). Either way, the same
//!   [`interact::Handler`] answers.
//! * Slash commands are registered at start, in the `discord.guilds` listed, else globally.
//! * `/subscribe` and `/unsubscribe` need Manage Channels (the default member permission, and
//!   checked again on every interaction); before subscribing, the bot checks it may view the
//!   channel, send messages and embed links there. Threads and forum posts are channels of their
//!   own, so they work the same way.
//! * The bot leaving a server (gateway `GUILD_DELETE`) pauses that server's subscriptions.
//! * Briefs go out through [`send::DiscordSender`], within podbrief's own rate limits.
//! * `discord.proxy` sends REST calls through an HTTP proxy (such as twilight-http-proxy), which
//!   then does the rate limiting serenity's own limiter would do.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use serenity::all::{
    ClientBuilder, Command as SlashCommand, Context, EventHandler, GatewayIntents, Guild, GuildId,
    Http, HttpBuilder, Interaction, Ready, UnavailableGuild,
};
use tracing::{info, warn};

use super::Connection;
use crate::config::{Config, DiscordConfig, DiscordMode};
use crate::core::Core;
use crate::core::model::Platform;

pub mod interact;
pub mod interactions;
pub mod render;
pub mod send;

use interact::{Handler, slash_commands};
use send::{DiscordSender, redact};

/// The reason shown in `/settings` when the bot was removed from a server.
pub const REMOVED_REASON: &str = "the bot was removed from this server";

/// A REST client: through `discord.proxy` when set (serenity's own limiter is then off, as the
/// proxy limits; serenity #1739), else straight to Discord with serenity's limiter.
fn build_http(token: &str, config: &DiscordConfig) -> Http {
    let builder = HttpBuilder::new(token);
    if config.proxy.trim().is_empty() {
        builder.build()
    } else {
        builder
            .proxy(config.proxy.trim().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build()
    }
}

/// Connects to Discord: checks the token (reads the application), registers the slash commands,
/// and starts receiving interactions through the gateway or the endpoint route it returns.
pub async fn connect(core: Arc<Core>, config: &Config) -> anyhow::Result<Connection> {
    let dc = &config.discord;
    let token = config.secret(&dc.token_env).with_context(|| {
        format!(
            "discord.enabled is true but the environment variable {} (discord.token_env) is not set",
            dc.token_env
        )
    })?;
    let token = token.expose().to_string();
    let http = Arc::new(build_http(&token, dc));
    let app = http.get_current_application_info().await.map_err(|e| {
        anyhow::anyhow!(
            "Discord rejected the bot token or is unreachable: {}",
            redact(&e.to_string(), &token)
        )
    })?;
    http.set_application_id(app.id);
    if dc.mode == DiscordMode::Interactions
        && !app.verify_key.eq_ignore_ascii_case(dc.public_key.trim())
    {
        warn!(
            "discord.public_key is not this application's public key: Discord's requests will be refused"
        );
    }
    register_commands(&http, &dc.guilds, &token).await;
    let sender = Arc::new(
        DiscordSender::new(http.clone(), token.clone(), dc)?.with_pages(&config.http.public_url),
    );
    let handler = Arc::new(
        Handler::new(core, http.clone(), token.clone()).with_pages(&config.http.public_url),
    );
    info!(application = %app.name, mode = ?dc.mode, "connected to Discord");
    let (routes, tasks) = match dc.mode {
        DiscordMode::Gateway => {
            let task = tokio::spawn(run_gateway(token, dc.clone(), app.id, handler));
            (None, vec![task])
        }
        DiscordMode::Interactions => {
            let verifier = interactions::verifier(&dc.public_key)?;
            let max_age = dc.interaction_max_age.get();
            let routes = interactions::routes(handler, verifier, max_age);
            (Some(routes), Vec::new())
        }
    };
    Ok(Connection {
        platform: Platform::Discord,
        sender,
        routes,
        tasks,
        stoppable: None,
    })
}

/// Registers the slash commands (replacing older ones) in the configured guilds, else globally.
/// A failure is logged: lookups of commands registered earlier still work.
async fn register_commands(http: &Http, guilds: &[String], token: &str) {
    let commands = slash_commands();
    if guilds.is_empty() {
        if let Err(e) = SlashCommand::set_global_commands(http, commands).await {
            warn!(error = %redact(&e.to_string(), token), "could not register the Discord slash commands");
        }
        return;
    }
    for g in guilds {
        let Some(id) = g.trim().parse::<u64>().ok().filter(|n| *n > 0) else {
            warn!(guild = %g, "discord.guilds: not a guild id");
            continue;
        };
        if let Err(e) = GuildId::new(id).set_commands(http, commands.clone()).await {
            warn!(guild = id, error = %redact(&e.to_string(), token), "could not register the Discord slash commands in a guild");
        }
    }
}

/// Runs the gateway connection, reconnecting with backoff when it ends.
async fn run_gateway(
    token: String,
    config: DiscordConfig,
    app: serenity::all::ApplicationId,
    handler: Arc<Handler>,
) {
    let mut wait = Duration::from_secs(1);
    loop {
        let http = build_http(&token, &config);
        http.set_application_id(app);
        let events = Gateway {
            handler: handler.clone(),
        };
        match ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
            .event_handler(events)
            .await
        {
            Ok(mut client) => {
                // serenity's shard range includes its end.
                let started = match config.shard_range() {
                    Ok(Some(r)) => client.start_shard_range(r.first..r.last, r.total).await,
                    _ => client.start_autosharded().await,
                };
                if let Err(e) = started {
                    warn!(error = %redact(&e.to_string(), &token), "the Discord gateway connection ended");
                }
            }
            Err(e) => {
                warn!(error = %redact(&e.to_string(), &token), "cannot start the Discord gateway client")
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(120));
    }
}

/// Gateway events.
struct Gateway {
    handler: Arc<Handler>,
}

#[async_trait]
impl EventHandler for Gateway {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let answer = self.handler.answer(interaction).await;
        let http = self.handler.http();
        if let Err(e) = http
            .create_interaction_response(answer.id, &answer.token, &answer.first, vec![])
            .await
        {
            warn!(error = %self.handler.redact(&e.to_string()), "could not answer a Discord interaction");
            return;
        }
        if let Some(then) = answer.then {
            self.handler
                .follow_up(&answer.token, then, answer.ephemeral, true)
                .await;
        }
    }

    async fn guild_delete(
        &self,
        _ctx: Context,
        incomplete: UnavailableGuild,
        _full: Option<Guild>,
    ) {
        if incomplete.unavailable {
            // An outage, not a removal: the server comes back.
            return;
        }
        let guild = incomplete.id.to_string();
        match self
            .handler
            .core()
            .scope_lost(Platform::Discord, &guild, REMOVED_REASON)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                info!(guild = %guild, paused = n, "removed from a Discord server; its subscriptions are paused")
            }
            Err(e) => warn!(error = %e, "could not pause a Discord server's subscriptions"),
        }
    }
}
