//! The command line: `run`, `ingest`, `brief`, `related`, `migrate`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing::info;

use crate::adapters::console::render;
use crate::app::App;
use crate::config::{Config, ConfigSource};
use crate::core::UserContext;
use crate::core::clock::SystemClock;
use crate::core::command::Command;
use crate::core::model::{Card, Reply};

/// podbrief: daily podcast insights for Discord, Telegram and the console.
#[derive(Debug, Parser)]
#[command(name = "podbrief", version, about)]
pub struct Cli {
    /// Config file (default ./bot.toml, falling back to ./bot.example.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the bot: migrate, ingest the feeds, open the console chat and deliver briefs on time.
    Run,
    /// Fetch the feeds and extract insights now.
    Ingest,
    /// Print today's top insights.
    Brief {
        /// How many (1-10; default brief.size).
        #[arg(long)]
        size: Option<u8>,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print insights related to some words.
    Related {
        /// The words to look for.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Read transcript files (or folders of them) and report what podbrief finds in each; fails
    /// if any file yields no text. Needs no config or database.
    CheckTranscripts {
        /// Files or folders.
        #[arg(required = true, num_args = 1..)]
        paths: Vec<PathBuf>,
    },
}

/// Parses the command line and runs it.
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let CliCommand::CheckTranscripts { paths } = &cli.command {
        return crate::ingest::check::check_transcripts(paths);
    }
    let (mut config, source) = Config::load(cli.config.as_deref())?;
    init_logging(&config.log.level);
    if let ConfigSource::Example(p) = &source {
        info!(
            "bot.toml not found; using {} (copy it to bot.toml to make it yours)",
            p.display()
        );
    }
    if let CliCommand::Brief { size: Some(n), .. } = &cli.command {
        if !(1..=crate::core::command::MAX_BRIEF_SIZE).contains(n) {
            anyhow::bail!("--size: {n} is out of range 1..=10");
        }
        config.brief.size = *n;
    }
    let app = App::build(config, Arc::new(SystemClock)).await?;
    let terminal = std::io::stderr().is_terminal();
    match cli.command {
        CliCommand::CheckTranscripts { .. } => unreachable!("handled before loading the config"),
        CliCommand::Migrate => {
            println!("database is up to date");
        }
        CliCommand::Ingest => {
            let r = app.ingest(terminal).await;
            println!(
                "{} feeds read, {} failed; {} new episodes; {} insights",
                r.feeds_ok,
                r.feed_errors.len(),
                r.new_episodes,
                r.new_insights
            );
            for (feed, e) in &r.feed_errors {
                eprintln!("feed {feed}: {e}");
            }
            for (ep, e) in &r.episode_errors {
                eprintln!("episode {ep:?}: {e}");
            }
        }
        CliCommand::Brief { json, .. } => {
            let reply = answer(&app, Command::Top).await;
            print_reply(&reply, json)?;
        }
        CliCommand::Related { query, json } => {
            let reply = answer(&app, Command::Related(query.join(" "))).await;
            print_reply(&reply, json)?;
        }
        CliCommand::Run => {
            let r = app.ingest(terminal).await;
            for (feed, e) in &r.feed_errors {
                eprintln!("feed {feed}: {e}");
            }
            let stats = app.store.stats().await.context("reading stats")?;
            info!(
                podcasts = stats.podcasts,
                episodes = stats.episodes,
                insights = stats.insights,
                "ready"
            );
            if app.console_enabled() {
                let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                tokio::select! {
                    r = app.run_console(stdin, tokio::io::stdout()) => r?,
                    _ = tokio::signal::ctrl_c() => info!("interrupted; shutting down"),
                }
            } else {
                let running = app.start(None).await?;
                tokio::signal::ctrl_c()
                    .await
                    .context("waiting for Ctrl-C")?;
                info!("interrupted; shutting down");
                running.stop();
            }
        }
    }
    Ok(())
}

async fn answer(app: &App, cmd: Command) -> Reply {
    let ctx = UserContext {
        chat: crate::adapters::console::console_chat(),
        user_id: None,
        can_manage: false,
        scope_id: None,
    };
    app.core.handle(&ctx, cmd).await
}

fn print_reply(reply: &Reply, json: bool) -> anyhow::Result<()> {
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            message: &'a str,
            insights: &'a [Card],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Out {
                message: &reply.text,
                insights: &reply.cards
            })?
        );
    } else {
        print!("{}", render(reply));
    }
    Ok(())
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
