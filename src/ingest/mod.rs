//! Ingest: read feeds (http(s) URLs or local files), store podcasts and episodes, fetch each new
//! episode's transcript (or fall back to its show notes), extract insights, store and index them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::{info, warn};

use crate::core::clock::Clock;
use crate::core::model::Episode;
use crate::extract::{EpisodeText, Extractor};
use crate::search::{SearchError, SearchIndex};
use crate::store::{Store, StoreError};

pub mod check;
pub mod feed;
pub mod transcript;

use feed::{FeedError, choose_transcript, parse_feed};
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
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Indexing failed.
    #[error(transparent)]
    Search(#[from] SearchError),
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
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .unwrap_or_default();
        Ingestor {
            store,
            index,
            extractor,
            clock,
            http,
            max_body: max_body_mb * 1024 * 1024,
        }
    }

    /// Polls every feed, then processes every pending episode. One failing feed or episode is
    /// reported and skipped; the others go on.
    pub async fn ingest_all(&self, sources: &[String], progress: bool) -> IngestReport {
        let mut report = IngestReport::default();
        let bar = progress_bar(progress, sources.len() as u64, "feeds");
        for src in sources {
            bar.set_message(src.clone());
            match self.poll_feed(src).await {
                Ok(new) => {
                    report.feeds_ok += 1;
                    report.new_episodes += new;
                }
                Err(e) => {
                    warn!(feed = %src, error = %e, "feed skipped");
                    if let Err(se) = self.store.record_feed_error(src, &e.to_string()).await {
                        warn!(feed = %src, error = %se, "could not record feed error");
                    }
                    report.feed_errors.push((src.clone(), e.to_string()));
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();

        let pending = match self.store.pending_episodes().await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "cannot list pending episodes");
                return report;
            }
        };
        let bar = progress_bar(progress, pending.len() as u64, "episodes");
        for ep in pending {
            bar.set_message(ep.meta.title.clone());
            match self.process_episode(&ep).await {
                Ok(n) => {
                    report.episodes_processed += 1;
                    report.new_insights += n;
                }
                Err(e) => {
                    warn!(episode = %ep.meta.title, error = %e, "episode failed");
                    if let Err(se) = self.store.finish_episode(ep.id, Some(&e.to_string())).await {
                        warn!(error = %se, "could not record episode error");
                    }
                    report
                        .episode_errors
                        .push((ep.meta.title.clone(), e.to_string()));
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        info!(
            feeds = report.feeds_ok,
            failed_feeds = report.feed_errors.len(),
            new_episodes = report.new_episodes,
            insights = report.new_insights,
            "ingest finished"
        );
        report
    }

    /// Reads one feed and stores its podcast and episodes. Returns how many episodes are new.
    pub async fn poll_feed(&self, source: &str) -> Result<usize, IngestError> {
        let loc = Location::parse(source);
        let bytes = self.fetch(&loc, "feed").await?;
        let parsed = parse_feed(&bytes).map_err(|error| IngestError::Feed {
            source_name: source.to_string(),
            error,
        })?;
        let now = self.clock.now();
        let podcast = self
            .store
            .upsert_podcast(source, &parsed.podcast, now)
            .await?;
        let mut new = 0;
        for (mut ep, links) in parsed.episodes {
            // A date in the future (a feed's clock or typo) counts as now.
            ep.published_at = ep.published_at.map(|t| t.min(now));
            if let Some(t) = choose_transcript(&links) {
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
            let (_, created) = self.store.upsert_episode(podcast, &ep, now).await?;
            new += usize::from(created);
        }
        Ok(new)
    }

    /// Reads an episode's transcript (or show notes), extracts, stores and indexes its insights.
    pub async fn process_episode(&self, ep: &Episode) -> Result<usize, IngestError> {
        let segments = self.episode_segments(ep).await?;
        let text = EpisodeText {
            podcast: String::new(),
            title: ep.meta.title.clone(),
            segments,
        };
        let insights = match self.extractor.extract(&text).await {
            Ok(i) => i,
            Err(e) => {
                warn!(episode = %ep.meta.title, error = %e, "extraction failed");
                Vec::new()
            }
        };
        let ids = self
            .store
            .insert_insights(ep.id, &insights, self.clock.now())
            .await?;
        let views = self.store.insights(&ids).await?;
        self.index.add(&views)?;
        self.store.finish_episode(ep.id, None).await?;
        Ok(ids.len())
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
                Err(e) => match notes() {
                    Some(n) if !n.is_empty() => {
                        warn!(episode = %ep.meta.title, error = %e, "transcript unusable, using show notes");
                        return Ok(n);
                    }
                    _ => return Err(e),
                },
            }
        }
        match notes() {
            Some(n) if !n.is_empty() => Ok(n),
            _ => Err(IngestError::NoText),
        }
    }

    /// Reads a document, refusing bodies over the size limit.
    pub async fn fetch(&self, loc: &Location, what: &str) -> Result<Vec<u8>, IngestError> {
        let too_large = || IngestError::TooLarge {
            what: format!("{what} {}", loc.display()),
            limit_mb: self.max_body / 1024 / 1024,
        };
        match loc {
            Location::File(path) => {
                let meta = tokio::fs::metadata(path)
                    .await
                    .map_err(|source| IngestError::Io {
                        path: path.clone(),
                        source,
                    })?;
                if meta.len() > self.max_body {
                    return Err(too_large());
                }
                tokio::fs::read(path)
                    .await
                    .map_err(|source| IngestError::Io {
                        path: path.clone(),
                        source,
                    })
            }
            Location::Http(url) => {
                let fetch_err = |e: reqwest::Error| IngestError::Fetch {
                    url: url.to_string(),
                    message: e.without_url().to_string(),
                };
                let mut resp = self.http.get(url.clone()).send().await.map_err(fetch_err)?;
                if !resp.status().is_success() {
                    return Err(IngestError::Fetch {
                        url: url.to_string(),
                        message: format!("HTTP {}", resp.status()),
                    });
                }
                if resp.content_length().is_some_and(|n| n > self.max_body) {
                    return Err(too_large());
                }
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(fetch_err)? {
                    if (body.len() + chunk.len()) as u64 > self.max_body {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            }
        }
    }
}

fn progress_bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {what:>8} [{{bar:30}}] {{pos}}/{{len}} {{wide_msg}}"
    )) {
        b.set_style(style);
    }
    b
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
