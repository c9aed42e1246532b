//! Wiring: builds the store, the index, the extractor and the core from a config, and runs them.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::io::{AsyncBufRead, AsyncWrite};
use tracing::{info, warn};

use crate::adapters::console::{Console, ConsoleOut};
use crate::config::{Config, ConsoleMode};
use crate::core::clock::Clock;
use crate::core::model::Platform;
use crate::core::{Core, Settings};
use crate::deliver::{Outbox, OutboxSettings, Scheduler, Sender};
use crate::extract::ExtractiveEngine;
use crate::ingest::{IngestReport, Ingestor, PollPolicy};
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
    /// What podbrief is doing, counted (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Which background parts run (`/readyz`); `start` fills it.
    pub health: Arc<crate::web::Health>,
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
        let index = Arc::new(crate::search::sync::open_for(&config, &*store).await?);
        let extractive = ExtractiveEngine {
            minutes_per_insight: config.extract.minutes_per_insight,
            max_per_episode: config.extract.max_per_episode,
            ..Default::default()
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let engine: Arc<dyn crate::extract::Extractor> =
            if config.extract.engine == crate::config::Engine::Llm {
                let settings = crate::extract::llm::LlmSettings::from_config(&config);
                Arc::new(
                    crate::extract::LlmEngine::new(settings, extractive, clock.clone())
                        .context("building the LLM engine")?
                        .with_metrics(metrics.clone()),
                )
            } else {
                Arc::new(extractive)
            };
        let extractor = Arc::new(crate::extract::DedupAcrossEpisodes::new(engine, 10_000));
        let ingestor = Arc::new(
            Ingestor::new(
                store.clone(),
                index.clone(),
                extractor,
                clock.clone(),
                config.ingest.timeout.get(),
                config.ingest.max_body_mb,
            )
            .with_policy(PollPolicy {
                every: config.ingest.poll_every.get(),
                max_failures: config.ingest.max_failures,
                backfill: config.ingest.backfill,
                concurrency: config.ingest.concurrency,
                per_host: config.ingest.per_host,
            })
            .with_metrics(metrics.clone())
            .with_stt(
                crate::ingest::stt::SpeechToText::from_config(&config, clock.clone())
                    .context("building the speech-to-text client")?,
            ),
        );
        let core = core(&config, &store, &index, &clock, &metrics);
        Ok(App {
            config,
            store,
            index,
            core,
            ingestor,
            clock,
            metrics,
            health: Arc::new(crate::web::Health::new()),
        })
    }

    /// Reads every configured feed now.
    pub async fn ingest(&self, progress: bool) -> IngestReport {
        self.ingestor
            .ingest_all(&self.config.feed_sources(), progress)
            .await
    }

    /// Connects the enabled chat platforms (Telegram, then Discord).
    async fn connect_platforms(&self) -> anyhow::Result<Vec<crate::adapters::Connection>> {
        let mut connections = Vec::new();
        if self.config.telegram.enabled {
            connections
                .push(crate::adapters::telegram::connect(self.core.clone(), &self.config).await?);
        }
        if self.config.discord.enabled {
            connections
                .push(crate::adapters::discord::connect(self.core.clone(), &self.config).await?);
        }
        Ok(connections)
    }

    /// Starts everything that runs in the background: the enabled chat platforms, the HTTP
    /// server, the brief scheduler and periodic feed polling. `console` adds the console's sender.
    pub async fn start(&self, console: Option<Arc<dyn Sender>>) -> anyhow::Result<Running> {
        // The word lists load off the request path, so the first lookup does not wait for them.
        drop(tokio::task::spawn_blocking(crate::search::synonyms::warm));
        let mut senders: HashMap<Platform, Arc<dyn Sender>> = HashMap::new();
        let mut routes = Router::new();
        let mut tasks = Vec::new();
        if let Some(c) = console {
            senders.insert(Platform::Console, c);
        }
        let mut stoppable = Vec::new();
        for c in self.connect_platforms().await? {
            self.health.set(c.platform.as_str(), Ok(()));
            senders.insert(c.platform, c.sender);
            if let Some(r) = c.routes {
                routes = routes.merge(r);
            }
            tasks.extend(c.tasks);
            stoppable.extend(c.stoppable);
        }
        let mut http_addr = None;
        if !self.config.http.listen.is_empty() {
            let (addr, task) = crate::web::serve(
                &self.config.http,
                crate::web::router(
                    routes.merge(crate::web::routes(crate::web::Site::from_app(self))),
                ),
            )
            .await?;
            http_addr = Some(addr);
            tasks.push(task);
        }
        let planned = Arc::new(tokio::sync::Notify::new());
        // Other instances' plans wake this outbox too (PostgreSQL).
        match self.store.watch_plans(planned.clone()).await {
            Ok(Some(task)) => tasks.push(task),
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, "cannot listen for other instances' planned deliveries; the outbox checks every minute")
            }
        }
        let settings = self.outbox_settings(&senders);
        let outbox = Outbox::new(self.core.clone(), senders, settings, planned.clone());
        let scheduler = Scheduler::new(
            self.core.clone(),
            self.config.brief.catch_up.get(),
            outbox.handoff(),
        );
        let scheduler = tokio::spawn(scheduler.run());
        tasks.push(self.health.watch("scheduler", scheduler));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let outbox = self
            .health
            .watch("outbox", tokio::spawn(outbox.run(stopped, SHUTDOWN_GRACE)));
        tasks.push(tokio::spawn(poll_forever(
            self.ingestor.clone(),
            self.clock.clone(),
            self.config.feed_sources(),
        )));
        if !self.config.database.url.starts_with("sqlite:") {
            // Other instances on a shared database store insights too: follow them.
            tasks.push(tokio::spawn(follow_store(
                self.store.clone(),
                self.index.clone(),
            )));
        }
        Ok(Running {
            http_addr,
            tasks,
            outbox: Some(outbox),
            stop,
            stoppable,
        })
    }

    /// The outbox's settings; warns when a queued brief's lease can run out before its send at
    /// a connected platform's rate.
    fn outbox_settings(&self, senders: &HashMap<Platform, Arc<dyn Sender>>) -> OutboxSettings {
        let d = &self.config.delivery;
        let settings = OutboxSettings {
            concurrency: d.concurrency,
            lease: d.lease.get(),
            max_attempts: d.max_attempts,
        };
        for (platform, per_second) in [
            (Platform::Telegram, self.config.telegram.per_second),
            (Platform::Discord, self.config.discord.per_second),
        ] {
            if senders.contains_key(&platform) && !settings.lease_outlasts_queue(per_second) {
                warn!(
                    platform = platform.as_str(),
                    lease = %d.lease,
                    queued = settings.queue_room(),
                    per_second,
                    "delivery.lease is shorter than sending the queued briefs takes at this rate: a brief whose lease runs out in the queue can be sent twice; raise delivery.lease"
                );
            }
        }
        settings
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

    /// Whether `run` opens the console chat (`auto`: no chat platform enabled and stdin a
    /// terminal).
    pub fn console_enabled(&self) -> bool {
        match self.config.console.enabled {
            ConsoleMode::On => true,
            ConsoleMode::Off => false,
            // Only a terminal is someone to chat with: a service's stdin is /dev/null.
            ConsoleMode::Auto => {
                !self.config.telegram.enabled
                    && !self.config.discord.enabled
                    && std::io::IsTerminal::is_terminal(&std::io::stdin())
            }
        }
    }
}

/// The core over the store, the index as its lookups and the store's feed list.
fn core(
    config: &Config,
    store: &Arc<dyn Store>,
    index: &Arc<SearchIndex>,
    clock: &Arc<dyn Clock>,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Arc<Core> {
    let feeds = Arc::new(crate::ports::ChatFeeds {
        store: store.clone(),
        allow_private: config.ingest.allow_private,
    });
    let settings = core_settings(config);
    let core = Core::new(store.clone(), index.clone(), feeds, clock.clone(), settings);
    Arc::new(core.with_metrics(metrics.clone()))
}

/// The core's settings from a validated config.
fn core_settings(c: &Config) -> Settings {
    Settings {
        size: c.brief.size,
        default_time: c.brief.default_time.clone(),
        default_timezone: c.brief.default_timezone,
        lookback: c.brief.lookback.chrono(),
        half_life_days: c.brief.half_life.get().as_secs_f64() / 86_400.0,
        max_per_episode: c.brief.max_per_episode,
        max_per_podcast: c.brief.max_per_podcast,
        skip_empty: c.brief.empty == crate::config::EmptyBrief::Skip,
        results: c.search.results,
        related_same_episode: c.search.related_same_episode,
        operators: c.ingest.operators.clone(),
    }
}

/// How long shutdown waits for briefs being sent.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What `App::start` set running.
pub struct Running {
    /// Where the HTTP server listens, if it runs.
    pub http_addr: Option<std::net::SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    outbox: Option<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
    /// Platform tasks that finish what they have in hand once told to stop.
    stoppable: Vec<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Running {
    /// Stops everything at once (briefs in flight are resent after their lease).
    pub fn stop(mut self) {
        self.abort_all();
    }

    /// Graceful shutdown: stop claiming briefs and fetching updates, let the briefs being sent
    /// and the updates being answered finish (for a bounded time), then stop the rest.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let mut finishing: Vec<_> = self.outbox.take().into_iter().collect();
        for (stop, task) in self.stoppable.drain(..) {
            let _ = stop.send(true);
            finishing.push(task);
        }
        let grace = SHUTDOWN_GRACE + std::time::Duration::from_secs(1);
        for task in &mut finishing {
            let _ = tokio::time::timeout(grace, task).await;
        }
        self.tasks.extend(finishing);
        self.abort_all();
    }

    fn abort_all(&mut self) {
        let stoppable = self.stoppable.drain(..).map(|(_, t)| t);
        for t in self
            .tasks
            .drain(..)
            .chain(self.outbox.take())
            .chain(stoppable)
        {
            t.abort();
        }
    }
}

/// Keeps the index current with insights other instances stored, every 30 seconds.
async fn follow_store(store: Arc<dyn Store>, index: Arc<SearchIndex>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        if let Err(e) = crate::search::sync::follow(store.as_ref(), &index).await {
            warn!(error = %e, "cannot follow the store's new insights");
        }
    }
}

async fn poll_forever(ingestor: Arc<Ingestor>, clock: Arc<dyn Clock>, sources: Vec<String>) {
    // Each feed has its own next poll time; look for due feeds every minute.
    loop {
        clock
            .sleep_until(clock.now() + chrono::Duration::minutes(1))
            .await;
        ingestor.ingest_due(&sources).await;
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
