//! Wiring: builds the store, the index, the extractor and the core from a config, and runs them.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use tokio::io::{AsyncBufRead, AsyncWrite};
use tracing::info;

use crate::adapters::console::{Console, ConsoleOut};
use crate::config::Config;
use crate::core::clock::Clock;
use crate::core::model::Platform;
use crate::core::{Core, Settings};
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

    /// Runs the bot with the console chat on `input`/`output` until the input ends: the brief
    /// timer and periodic feed polling run alongside.
    pub async fn run_console<R, W>(&self, input: R, output: W) -> anyhow::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let out: ConsoleOut = Arc::new(tokio::sync::Mutex::new(Box::new(output)));
        let console = Console::new(self.core.clone(), out);
        let mut senders: HashMap<Platform, Arc<dyn crate::deliver::Sender>> = HashMap::new();
        senders.insert(Platform::Console, console.sender());
        let scheduler = Scheduler::new(
            self.core.clone(),
            senders,
            Config::duration(&self.config.brief.catch_up),
        );
        let timer = tokio::spawn(scheduler.run());
        let poller = tokio::spawn(poll_forever(
            self.ingestor.clone(),
            self.clock.clone(),
            self.config.feed_sources(),
            Config::duration(&self.config.ingest.poll_every),
        ));
        let result = console
            .run(input)
            .await
            .context("console input/output failed");
        timer.abort();
        poller.abort();
        info!("console closed");
        result
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
