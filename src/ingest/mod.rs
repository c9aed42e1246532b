//! Ingest: read feeds (http(s) URLs or local files), store podcasts and episodes, fetch each new
//! episode's transcript (or fall back to its show notes), extract insights, store and index them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::core::clock::Clock;
use crate::core::model::{Episode, EpisodeId};
use crate::extract::{EpisodeText, Extractor};
use crate::search::{SearchError, SearchIndex};
use crate::store::{PollRecord, Store, StoreError};

pub mod budget;
pub mod chapters;
pub mod check;
pub mod feed;
pub mod fetch;
pub mod guard;
pub mod manage;
pub mod marks;
pub mod opml;
pub mod progress;
pub mod reextract;
pub mod stt;
pub mod transcript;

use feed::{FeedError, choose_transcript, parse_feed};
use fetch::{Fetched, Validators, fetch};
use futures::StreamExt;
use transcript::{Segment, Transcript, TranscriptError};

/// Why a feed or an episode could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An HTTP request failed.
    #[error("cannot fetch {url}: {message}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        message: String,
        /// Whether trying again later may succeed (no answer, a timeout, 5xx, 429).
        transient: bool,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The body is larger than allowed.
    #[error("{what} is larger than the {limit_mb} MB limit (ingest.max_body_mb)")]
    TooLarge {
        /// What was fetched.
        what: String,
        /// The limit.
        limit_mb: u64,
    },
    /// A transcript link that may not be followed (a remote feed pointing at local files).
    #[error("refusing transcript location {0}: a remote feed may only link http(s) URLs")]
    Forbidden(String),
    /// The feed is malformed.
    #[error("feed {source_name}: {error}")]
    Feed {
        /// The feed.
        source_name: String,
        /// What is wrong.
        error: FeedError,
    },
    /// The transcript is unreadable.
    #[error("transcript {url}: {error}")]
    Transcript {
        /// The transcript.
        url: String,
        /// What is wrong.
        error: TranscriptError,
    },
    /// Neither a transcript nor show notes.
    #[error("episode has no transcript and no show notes")]
    NoText,
    /// The insight engine failed on the episode.
    #[error("extraction failed: {0}")]
    Extract(String),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Indexing failed.
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl IngestError {
    /// Whether trying again later may succeed: the transcript server did not answer or answered
    /// 5xx/429, a file could not be read (other than missing), the store or the index failed
    /// (a full disk, a lost connection). Malformed or missing content is not.
    pub fn is_transient(&self) -> bool {
        match self {
            IngestError::Fetch { transient, .. } => *transient,
            IngestError::Io { source, .. } => source.kind() != std::io::ErrorKind::NotFound,
            IngestError::Store(_) | IngestError::Search(_) => true,
            _ => false,
        }
    }
}

/// Episodes that failed for a passing reason, tried again with backoff: one minute after the
/// first failure, doubling up to six hours. They stay pending in the store (a restart tries them
/// at once); after [`NOTES_AFTER`] failed transcript fetches, their show notes are used.
#[derive(Debug, Default)]
struct Retries(std::sync::Mutex<std::collections::HashMap<crate::core::model::EpisodeId, Retry>>);

#[derive(Debug, Clone, Copy)]
struct Retry {
    failures: u32,
    due: chrono::DateTime<chrono::Utc>,
}

/// Failed transcript fetches after which an episode with show notes uses them instead.
pub const NOTES_AFTER: u32 = 3;

impl Retries {
    fn get(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, Retry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `id` may be tried at `now`.
    fn due(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.get().get(&id).is_none_or(|r| r.due <= now)
    }

    /// How many times `id` failed for a passing reason so far.
    fn failures(&self, id: i64) -> u32 {
        self.get().get(&id).map_or(0, |r| r.failures)
    }

    /// Records a passing failure; returns the failures so far and when to try again.
    fn failed(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> Retry {
        let mut m = self.get();
        let failures = m.get(&id).map_or(0, |r| r.failures) + 1;
        let wait = (chrono::Duration::minutes(1) * 2i32.pow(failures.min(10) - 1))
            .min(chrono::Duration::hours(6));
        let r = Retry {
            failures,
            due: now + wait,
        };
        m.insert(id, r);
        r
    }

    fn done(&self, id: i64) {
        self.get().remove(&id);
    }
}

/// Where a feed or transcript lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An http(s) URL.
    Http(url::Url),
    /// A local file.
    File(PathBuf),
}

impl Location {
    /// Reads a feed source from the config: a URL or a path.
    pub fn parse(s: &str) -> Location {
        match url::Url::parse(s) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Location::Http(u),
            Ok(u) if u.scheme() == "file" => {
                Location::File(u.to_file_path().unwrap_or_else(|_| PathBuf::from(u.path())))
            }
            _ => Location::File(PathBuf::from(s)),
        }
    }

    /// Resolves a link found inside this document.
    pub fn join(&self, href: &str) -> Result<Location, IngestError> {
        let href = href.trim();
        match (self, url::Url::parse(href)) {
            (_, Ok(u)) if u.scheme() == "http" || u.scheme() == "https" => Ok(Location::Http(u)),
            (Location::File(_), Ok(u)) if u.scheme() == "file" => Ok(Location::File(
                u.to_file_path()
                    .map_err(|_| IngestError::Forbidden(href.to_string()))?,
            )),
            (Location::File(base), Err(url::ParseError::RelativeUrlWithoutBase)) => {
                let rel = Path::new(href);
                Ok(Location::File(
                    base.parent().unwrap_or(Path::new(".")).join(rel),
                ))
            }
            (Location::Http(base), Err(url::ParseError::RelativeUrlWithoutBase)) => base
                .join(href)
                .map(Location::Http)
                .map_err(|_| IngestError::Forbidden(href.to_string())),
            _ => Err(IngestError::Forbidden(href.to_string())),
        }
    }

    /// The location as text (URL or path).
    pub fn display(&self) -> String {
        match self {
            Location::Http(u) => u.to_string(),
            Location::File(p) => p.display().to_string(),
        }
    }
}

/// What one ingest pass did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct IngestReport {
    /// Feeds read successfully.
    pub feeds_ok: usize,
    /// Feeds that failed, with the error.
    pub feed_errors: Vec<(String, String)>,
    /// Feeds skipped because they are disabled.
    pub feeds_disabled: usize,
    /// Episodes seen for the first time.
    pub new_episodes: usize,
    /// Episodes whose transcript was read and insights extracted.
    pub episodes_processed: usize,
    /// Episodes that failed, with the error.
    pub episode_errors: Vec<(String, String)>,
    /// Insights stored.
    pub new_insights: usize,
}

/// Reads feeds and turns new episodes into stored, indexed insights.
pub struct Ingestor {
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    extractor: Arc<dyn Extractor>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    max_body: u64,
    policy: PollPolicy,
    metrics: Arc<crate::metrics::Metrics>,
    stt: Option<Arc<stt::SpeechToText>>,
    retries: Retries,
}

/// How feeds are polled.
#[derive(Debug, Clone)]
pub struct PollPolicy {
    /// Each feed is read again after this long (with ±10% jitter).
    pub every: Duration,
    /// After this many consecutive failures a feed is disabled.
    pub max_failures: u32,
    /// Only the newest this-many episodes of a feed are read.
    pub backfill: usize,
    /// Feeds fetched at once.
    pub concurrency: usize,
    /// Feeds fetched at once from one host.
    pub per_host: usize,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            every: Duration::from_secs(1800),
            max_failures: 5,
            backfill: 50,
            concurrency: 16,
            per_host: 2,
        }
    }
}

impl Ingestor {
    /// An ingestor with an HTTP timeout and a body-size limit.
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        extractor: Arc<dyn Extractor>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        max_body_mb: u64,
    ) -> Ingestor {
        let http = reqwest::Client::builder()
            .user_agent(concat!("podbrief/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Redirects are followed by `fetch`, which records permanent ones.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Ingestor {
            store,
            index,
            extractor,
            clock,
            http,
            max_body: max_body_mb * 1024 * 1024,
            policy: PollPolicy::default(),
            metrics: Arc::default(),
            stt: None,
            retries: Retries::default(),
        }
    }

    /// Counts polls and ingested episodes and insights in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Ingestor {
        self.metrics = metrics;
        self
    }

    /// Sets how feeds are polled.
    pub fn with_policy(mut self, policy: PollPolicy) -> Ingestor {
        self.policy = policy;
        self
    }

    /// Polls every feed now (configured and added ones, except disabled feeds), then processes
    /// every pending episode. One failing feed or episode is reported and skipped; the others go
    /// on.
    pub async fn ingest_all(&self, sources: &[String], progress: bool) -> IngestReport {
        self.ingest(sources, false, progress).await
    }

    /// Polls only the feeds that are due, then processes pending episodes (the `run` loop).
    pub async fn ingest_due(&self, sources: &[String]) -> IngestReport {
        self.ingest(sources, true, false).await
    }

    async fn ingest(&self, sources: &[String], due_only: bool, progress: bool) -> IngestReport {
        let mut report = IngestReport::default();
        let now = self.clock.now();
        let mut feeds = self
            .feeds_to_poll(sources, due_only, now, &mut report)
            .await;
        if due_only {
            feeds = self.claim_feeds(feeds, now).await;
        }
        let progress = progress::Progress::new(progress);
        for (src, r) in self.poll_feeds(sources, &feeds, &progress).await {
            self.metrics.feed_polled(r.is_ok());
            match r {
                Ok(new) => {
                    report.feeds_ok += 1;
                    report.new_episodes += new;
                }
                Err(e) => {
                    warn!(feed = %src, error = %e, "feed skipped");
                    report.feed_errors.push((src, e.to_string()));
                }
            }
        }
        report.feed_errors.sort();

        self.process_pending(&progress, &mut report).await;
        info!(
            feeds = report.feeds_ok,
            failed_feeds = report.feed_errors.len(),
            new_episodes = report.new_episodes,
            insights = report.new_insights,
            "ingest finished"
        );
        report
    }

    /// The configured feeds and the ones added since, less the disabled ones (counted in
    /// `report`) and, when `due_only`, the ones not due yet.
    async fn feeds_to_poll(
        &self,
        sources: &[String],
        due_only: bool,
        now: chrono::DateTime<chrono::Utc>,
        report: &mut IngestReport,
    ) -> Vec<String> {
        let known = self.store.feeds().await.unwrap_or_else(|e| {
            warn!(error = %e, "cannot list feeds");
            Vec::new()
        });
        let known = self.adopt_relative_paths(sources, known).await;
        let mut feeds: Vec<String> = sources.to_vec();
        for f in &known {
            if !feeds.contains(&f.feed_url) {
                feeds.push(f.feed_url.clone());
            }
        }
        feeds.retain(|url| match known.iter().find(|f| &f.feed_url == url) {
            Some(f) if f.disabled_reason.is_some() => {
                report.feeds_disabled += 1;
                false
            }
            Some(f) if due_only => f.next_poll_at.is_none_or(|t| t <= now),
            _ => true,
        });
        feeds
    }

    /// The feeds this instance claims for polling. Several instances on one database: each
    /// due feed is polled by the one that claims it (the claim holds it for a while; the poll's
    /// outcome then sets the next time).
    async fn claim_feeds(
        &self,
        feeds: Vec<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<String> {
        let lease = now + chrono::Duration::minutes(10);
        let mut claimed = Vec::with_capacity(feeds.len());
        for url in feeds {
            let got = match self.store.add_feed(&url, now).await {
                Ok(_) => self.store.claim_feed(&url, now, lease).await,
                Err(e) => Err(e),
            };
            match got {
                Ok(true) => claimed.push(url),
                Ok(false) => {}
                Err(e) => warn!(feed = %url, error = %e, "cannot claim the feed for polling"),
            }
        }
        claimed
    }

    /// Polls `feeds`, `policy.concurrency` at once and `policy.per_host` at once per host.
    async fn poll_feeds(
        &self,
        sources: &[String],
        feeds: &[String],
        progress: &progress::Progress,
    ) -> Vec<(String, Result<usize, IngestError>)> {
        let bar = progress.phase("feeds", feeds.len() as u64);
        let hosts: std::collections::HashMap<String, Arc<tokio::sync::Semaphore>> = feeds
            .iter()
            .map(|f| {
                (
                    host_of(f),
                    Arc::new(tokio::sync::Semaphore::new(self.policy.per_host.max(1))),
                )
            })
            .collect();
        let results = futures::stream::iter(feeds.iter().cloned())
            .map(|src| {
                let slot = hosts.get(&host_of(&src)).cloned();
                let from_config = sources.contains(&src);
                async move {
                    let _permit = match &slot {
                        Some(s) => s.acquire().await.ok(),
                        None => None,
                    };
                    let r = self.poll_feed_recorded(&src, from_config).await;
                    (src, r)
                }
            })
            .buffer_unordered(self.policy.concurrency.max(1))
            .inspect(|_| bar.inc())
            .collect()
            .await;
        bar.finish();
        results
    }

    /// Feeds an older podbrief stored as paths relative to the working directory take the
    /// absolute path the config now gives the same file, so they are not read twice.
    async fn adopt_relative_paths(
        &self,
        sources: &[String],
        mut known: Vec<crate::store::FeedRow>,
    ) -> Vec<crate::store::FeedRow> {
        let same_file = |a: &str, b: &str| matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y);
        for f in &mut known {
            let old = f.feed_url.clone();
            if old.contains("://") || Path::new(&old).is_absolute() {
                continue;
            }
            let Some(new) = sources.iter().find(|s| same_file(&old, s)) else {
                continue;
            };
            match self.store.move_feed(&old, new).await {
                Ok(true) => {
                    info!(feed = %new, was = %old, "a relative feed path is now absolute");
                    f.feed_url = new.clone();
                }
                Ok(false) => {}
                Err(e) => warn!(feed = %old, error = %e, "cannot rename a relative feed path"),
            }
        }
        known
    }

    /// Reads and extracts every pending episode that is due (not waiting out a backoff).
    async fn process_pending(&self, progress: &progress::Progress, report: &mut IngestReport) {
        let pending = match self.store.pending_episodes().await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "cannot list pending episodes");
                return;
            }
        };
        let now = self.clock.now();
        let pending: Vec<Episode> = pending
            .into_iter()
            .filter(|ep| self.retries.due(ep.id, now))
            .collect();
        // Transcripts are read a few at a time (network-bound), a batch at a time, then that
        // batch is extracted in order (CPU-bound): two phases, with memory bounded by the batch.
        const EPISODE_BATCH: usize = 16;
        const TRANSCRIPT_FETCHES: usize = 4;
        let transcripts = progress.phase("transcripts", pending.len() as u64);
        let extraction = progress.phase("extraction", pending.len() as u64);
        for batch in pending.chunks(EPISODE_BATCH) {
            let reads: Vec<_> = batch
                .iter()
                .map(|ep| self.read_episode(ep, &transcripts))
                .collect();
            let read: Vec<Result<Vec<Segment>, IngestError>> = futures::stream::iter(reads)
                .buffered(TRANSCRIPT_FETCHES)
                .collect()
                .await;
            for (ep, segments) in batch.iter().zip(read) {
                extraction.set_message(&ep.meta.title);
                let result = match segments {
                    Ok(segments) => self.extract_episode(ep, segments).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(n) => {
                        self.retries.done(ep.id);
                        report.episodes_processed += 1;
                        report.new_insights += n;
                        self.metrics.episode_ingested(n);
                    }
                    Err(e) => {
                        self.episode_failed(ep, &e).await;
                        report
                            .episode_errors
                            .push((ep.meta.title.clone(), e.to_string()));
                    }
                }
                extraction.inc();
            }
        }
        transcripts.finish();
        extraction.finish();
    }

    /// Records an episode's failure: a passing one leaves it pending, tried again after a
    /// backoff; any other marks it failed with the error.
    async fn episode_failed(&self, ep: &Episode, e: &IngestError) {
        if e.is_transient() {
            let r = self.retries.failed(ep.id, self.clock.now());
            warn!(episode = %ep.meta.title, error = %e, failures = r.failures, retry_at = %r.due,
                "episode failed for a passing reason; it is tried again later");
            return;
        }
        warn!(episode = %ep.meta.title, error = %e, "episode failed");
        if let Err(se) = self.store.finish_episode(ep.id, Some(&e.to_string())).await {
            warn!(error = %se, "could not record episode error");
        }
    }

    /// Polls one feed and records the outcome: validators and the next poll on success, the error,
    /// an exponential backoff and (after `max_failures`) the feed disabled on failure.
    async fn poll_feed_recorded(
        &self,
        source: &str,
        from_config: bool,
    ) -> Result<usize, IngestError> {
        let state = self.store.feed(source).await?;
        let validators = state
            .as_ref()
            .map(|f| Validators {
                etag: f.etag.clone(),
                last_modified: f.last_modified.clone(),
            })
            .unwrap_or_default();
        let result = self.poll_feed_with(source, &validators, from_config).await;
        // After a recorded permanent redirect the feed lives at its new URL.
        let source = match &result {
            Ok((_, _, Some(moved))) => moved.clone(),
            _ => source.to_string(),
        };
        let source = source.as_str();
        let now = self.clock.now();
        let every =
            chrono::Duration::from_std(self.policy.every).unwrap_or(chrono::Duration::minutes(30));
        let (record, next) = match &result {
            Ok((record, _, _)) => (record.clone(), now + jitter(every, source)),
            Err(e) => {
                let failures = state.as_ref().map_or(0, |f| f.failures) + 1;
                let backoff = (every * 2i32.pow(failures.clamp(0, 6) as u32 - 1))
                    .min(chrono::Duration::hours(24));
                let disable = (failures >= i64::from(self.policy.max_failures))
                    .then(|| format!("disabled after {failures} failures in a row; last: {e}"));
                if let Some(reason) = &disable {
                    warn!(feed = %source, %reason, "feed disabled");
                }
                (
                    PollRecord::Failed {
                        error: e.to_string(),
                        disable,
                    },
                    now + backoff,
                )
            }
        };
        self.store.record_poll(source, &record, next, now).await?;
        result.map(|(_, new, _)| new)
    }

    /// Reads one feed now (unconditionally) and stores its podcast and episodes. Returns how
    /// many episodes are new.
    pub async fn poll_feed(&self, source: &str) -> Result<usize, IngestError> {
        self.poll_feed_with(source, &Validators::default(), true)
            .await
            .map(|(_, n, _)| n)
    }

    async fn poll_feed_with(
        &self,
        source: &str,
        validators: &Validators,
        from_config: bool,
    ) -> Result<(PollRecord, usize, Option<String>), IngestError> {
        let loc = Location::parse(source);
        let (bytes, validators, moved_to) =
            match fetch(&self.http, &loc, "feed", self.max_body, validators).await? {
                Fetched::NotModified => return Ok((PollRecord::NotModified, 0, None)),
                Fetched::Body {
                    bytes,
                    validators,
                    moved_to,
                } => (bytes, validators, moved_to),
            };
        let parsed =
            parse_feed(&bytes, &fallback_title(&loc)).map_err(|error| IngestError::Feed {
                source_name: source.to_string(),
                error,
            })?;
        let now = self.clock.now();
        let podcast = self
            .store
            .upsert_podcast(source, &parsed.podcast, now)
            .await?;
        let mut new = 0;
        let language = parsed.language.clone();
        let mut feed_marks = parsed.marks.into_iter();
        // Newest first (parse_feed sorts them): a long back catalogue is capped.
        for (mut ep, links) in parsed
            .episodes
            .into_iter()
            .take(self.policy.backfill.max(1))
        {
            // A date in the future (a feed's clock or typo) counts as now.
            ep.published_at = ep.published_at.map(|t| t.min(now));
            // A relative enclosure is relative to the feed.
            if let Some(a) = &ep.audio_url
                && url::Url::parse(a).is_err()
            {
                ep.audio_url = loc.join(a).ok().map(|l| l.display());
            }
            if let Some(t) = choose_transcript(&links, language.as_deref()) {
                match loc.join(&t.url) {
                    Ok(l) => {
                        ep.transcript_url = Some(l.display());
                        ep.transcript_kind = t.kind.clone();
                    }
                    Err(e) => {
                        warn!(feed = %source, episode = %ep.title, error = %e, "transcript link ignored")
                    }
                }
            }
            let (id, created) = self.store.upsert_episode(podcast, &ep, now).await?;
            let marks = feed_marks.next().unwrap_or_default();
            self.record_marks(source, &loc, id, &ep.title, marks).await;
            new += usize::from(created);
        }
        let mut moved = None;
        if let Some(to) = moved_to {
            if from_config {
                warn!(feed = %source, new_url = %to, "the feed moved permanently; update it in bot.toml");
            } else if self.store.move_feed(source, &to).await? {
                info!(feed = %source, new_url = %to, "the feed moved permanently; its URL is updated");
                moved = Some(to);
            }
        }
        let record = PollRecord::Fetched {
            etag: validators.etag,
            last_modified: validators.last_modified,
        };
        Ok((record, new, moved))
    }

    /// Reads an episode's transcript (or show notes), extracts, stores and indexes its insights.
    pub async fn process_episode(&self, ep: &Episode) -> Result<usize, IngestError> {
        let segments = self.episode_segments(ep).await?;
        self.extract_episode(ep, segments).await
    }

    /// What the insight engine reads of an episode whose words are read: its title, words,
    /// chapters and soundbites, and show notes.
    async fn episode_text(&self, ep: &Episode, segments: Vec<Segment>) -> EpisodeText {
        EpisodeText {
            podcast: String::new(),
            title: ep.meta.title.clone(),
            segments,
            marks: self.read_marks(ep).await,
            notes: ep.meta.show_notes.clone(),
        }
    }

    /// Stores what an episode is about (see [`crate::search::subject`]) and tells the index.
    async fn keep_subject(
        &self,
        episode: EpisodeId,
        text: &EpisodeText,
    ) -> Result<(), IngestError> {
        let subject = crate::search::subject::of_episode(text);
        self.store.set_episode_subject(episode, &subject).await?;
        self.index.set_episode_subject(episode, &subject);
        Ok(())
    }

    /// Extracts, stores and indexes the insights of an episode whose words are read.
    async fn extract_episode(
        &self,
        ep: &Episode,
        segments: Vec<Segment>,
    ) -> Result<usize, IngestError> {
        let text = self.episode_text(ep, segments).await;
        self.keep_subject(ep.id, &text).await?;
        let mut insights = match self.extractor.extract(&text).await {
            Ok(i) => i,
            Err(e) => {
                warn!(episode = %ep.meta.title, error = %e, "extraction failed");
                Vec::new()
            }
        };
        crate::extract::marks::place_in_chapters(&mut insights, &text.marks.chapters);
        insights.iter_mut().for_each(crate::core::sanitize::insight);
        let ids = self
            .store
            .insert_insights(ep.id, &insights, self.clock.now())
            .await?;
        let views = self.store.insights(&ids).await?;
        self.index.add(&views)?;
        self.store.finish_episode(ep.id, None).await?;
        Ok(ids.len())
    }

    /// An episode's words (the transcripts phase).
    async fn read_episode(
        &self,
        ep: &Episode,
        phase: &progress::Phase,
    ) -> Result<Vec<Segment>, IngestError> {
        phase.set_message(&ep.meta.title);
        let r = self.episode_segments(ep).await;
        phase.inc();
        r
    }

    async fn episode_segments(&self, ep: &Episode) -> Result<Vec<Segment>, IngestError> {
        let notes = || {
            ep.meta.show_notes.as_deref().map(|n| {
                n.split("\n\n")
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|p| !p.is_empty())
                    .map(|text| Segment {
                        speaker: None,
                        start_ms: None,
                        end_ms: None,
                        text,
                    })
                    .collect::<Vec<_>>()
            })
        };
        if let Some(url) = &ep.meta.transcript_url {
            let loc = Location::parse(url);
            let parsed = match self.fetch(&loc, "transcript").await {
                Ok(bytes) => Transcript::parse(&bytes).map_err(|error| IngestError::Transcript {
                    url: url.clone(),
                    error,
                }),
                Err(e) => Err(e),
            };
            match parsed {
                Ok(t) => return Ok(t.segments),
                // A passing failure is tried again before the show notes stand in.
                Err(e) if e.is_transient() && self.retries.failures(ep.id) + 1 < NOTES_AFTER => {
                    return Err(e);
                }
                Err(e) => match notes() {
                    Some(n) if !n.is_empty() => {
                        warn!(episode = %ep.meta.title, error = %e, "transcript unusable, using show notes");
                        return Ok(n);
                    }
                    _ => return Err(e),
                },
            }
        }
        // No transcript: speech-to-text, if configured (logged and skipped on any failure).
        if let Some(segments) = self.speech_to_text(ep).await {
            return Ok(segments);
        }
        match notes() {
            Some(n) if !n.is_empty() => Ok(n),
            _ => Err(IngestError::NoText),
        }
    }

    /// Reads a document (a transcript), refusing bodies over the size limit.
    pub async fn fetch(&self, loc: &Location, what: &str) -> Result<Vec<u8>, IngestError> {
        match fetch(&self.http, loc, what, self.max_body, &Validators::default()).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            Fetched::NotModified => Err(IngestError::Fetch {
                url: loc.display(),
                message: "HTTP 304 without a conditional request".into(),
                transient: false,
            }),
        }
    }
}

/// A title for a feed that has none: its file name, or its host.
fn fallback_title(loc: &Location) -> String {
    match loc {
        Location::Http(u) => u.host_str().unwrap_or("Untitled podcast").to_string(),
        Location::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The host of a feed URL (files share one "host").
fn host_of(src: &str) -> String {
    match Location::parse(src) {
        Location::Http(u) => u.host_str().unwrap_or("").to_ascii_lowercase(),
        Location::File(_) => "file".into(),
    }
}

/// `every` ± 10%, varying by feed, so feeds added together do not poll in lockstep.
fn jitter(every: chrono::Duration, key: &str) -> chrono::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let h = key.bytes().fold(u64::from(nanos), |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let spread = every.num_milliseconds() / 10;
    if spread <= 0 {
        return every;
    }
    every + chrono::Duration::milliseconds((h % (2 * spread as u64 + 1)) as i64 - spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_links_resolve_safely() {
        let file = Location::parse("samples/show/feed.xml");
        assert_eq!(
            file.join("t/1.vtt").unwrap(),
            Location::File(PathBuf::from("samples/show/t/1.vtt"))
        );
        let web = Location::parse("https://example.com/feeds/show.xml");
        assert_eq!(
            web.join("t/1.vtt").unwrap().display(),
            "https://example.com/feeds/t/1.vtt"
        );
        assert!(web.join("file:///etc/passwd").is_err());
        assert!(file.join("ftp://example.com/x").is_err());
    }
}
