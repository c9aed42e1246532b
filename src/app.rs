//! Wiring: builds the store, the index, the extractor and the core from a config, and runs them.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::io::{AsyncBufRead, AsyncWrite};
use tracing::info;

use crate::adapters::console::{Console, ConsoleOut};
use crate::config::{Config, ConsoleMode};
use crate::core::clock::Clock;
use crate::core::model::Platform;
use crate::core::{Core, Settings};
use crate::deliver::Sender;
use crate::deliver::scheduler::Scheduler;
use crate::extract::ExtractiveEngine;
use crate::ingest::{IngestReport, Ingestor};
use crate::search::SearchIndex;
use crate::store::{Store, connect};

/// A built podbrief: everything wired, nothing running yet.
pub struct App {
    /// The configuration it was built from.
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The search index.
    pub index: Arc<SearchIndex>,
    /// The core.
    pub core: Arc<Core>,
    /// The ingestor.
    pub ingestor: Arc<Ingestor>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl App {
    /// Connects and migrates the database, builds the index from the store, and wires the rest.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let store = connect(&config.database.url, config.database.max_connections)
            .await
            .with_context(|| {
                format!(
                    "opening the database ({})",
                    redact_url(&config.database.url)
                )
            })?;
        store.migrate().await.context("migrating the database")?;
        let index = Arc::new(SearchIndex::in_memory().context("creating the search index")?);
        let mut after = 0;
        loop {
            let batch = store
                .insights_after(after, 5_000)
                .await
                .context("loading insights into the index")?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            index.add(&batch).context("indexing insights")?;
        }
        let extractor = Arc::new(ExtractiveEngine {
            per_episode: config.extract.per_episode,
            ..Default::default()
        });
        let ingestor = Arc::new(Ingestor::new(
            store.clone(),
            index.clone(),
            extractor,
            clock.clone(),
            Config::duration(&config.ingest.timeout),
            config.ingest.max_body_mb,
        ));
        let core = Arc::new(Core::new(
            store.clone(),
            index.clone(),
            clock.clone(),
            Settings::from_config(&config),
        ));
        Ok(App {
            config,
            store,
            index,
            core,
            ingestor,
            clock,
        })
    }

    /// Reads every configured feed now.
    pub async fn ingest(&self, progress: bool) -> IngestReport {
        self.ingestor
            .ingest_all(&self.config.feed_sources(), progress)
            .await
    }

    /// Starts everything that runs in the background: the enabled chat platforms, the HTTP
    /// server, the brief scheduler and periodic feed polling. `console` adds the console's sender.
    pub async fn start(&self, console: Option<Arc<dyn Sender>>) -> anyhow::Result<Running> {
        let mut senders: HashMap<Platform, Arc<dyn Sender>> = HashMap::new();
        let mut routes = Router::new();
        let mut tasks = Vec::new();
        if let Some(c) = console {
            senders.insert(Platform::Console, c);
        }
        let mut connections = Vec::new();
        if self.config.telegram.enabled {
            connections
                .push(crate::adapters::telegram::connect(self.core.clone(), &self.config).await?);
        }
        for c in connections {
            senders.insert(c.platform, c.sender);
            if let Some(r) = c.routes {
                routes = routes.merge(r);
            }
            tasks.extend(c.tasks);
        }
        let mut http_addr = None;
        if !self.config.http.listen.is_empty() {
            let (addr, task) =
                crate::web::serve(&self.config.http.listen, crate::web::router(routes)).await?;
            http_addr = Some(addr);
            tasks.push(task);
        }
        let scheduler = Scheduler::new(
            self.core.clone(),
            senders,
            Config::duration(&self.config.brief.catch_up),
        );
        tasks.push(tokio::spawn(scheduler.run()));
        tasks.push(tokio::spawn(poll_forever(
            self.ingestor.clone(),
            self.clock.clone(),
            self.config.feed_sources(),
            Config::duration(&self.config.ingest.poll_every),
        )));
        Ok(Running { http_addr, tasks })
    }

    /// Runs the bot with the console chat on `input`/`output` until the input ends.
    pub async fn run_console<R, W>(&self, input: R, output: W) -> anyhow::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let out: ConsoleOut = Arc::new(tokio::sync::Mutex::new(Box::new(output)));
        let console = Console::new(self.core.clone(), out);
        let running = self.start(Some(console.sender())).await?;
        let result = console
            .run(input)
            .await
            .context("console input/output failed");
        running.stop();
        info!("console closed");
        result
    }

    /// Whether `run` opens the console chat.
    pub fn console_enabled(&self) -> bool {
        match self.config.console.enabled {
            ConsoleMode::On => true,
            ConsoleMode::Off => false,
            ConsoleMode::Auto => !self.config.telegram.enabled && !self.config.discord.enabled,
        }
    }
}

/// What `App::start` set running.
pub struct Running {
    /// Where the HTTP server listens, if it runs.
    pub http_addr: Option<std::net::SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops everything.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn poll_forever(
    ingestor: Arc<Ingestor>,
    clock: Arc<dyn Clock>,
    sources: Vec<String>,
    every: std::time::Duration,
) {
    let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::minutes(30));
    loop {
        clock.sleep_until(clock.now() + every).await;
        ingestor.ingest_all(&sources, false).await;
    }
}

/// A database URL with any password removed, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
