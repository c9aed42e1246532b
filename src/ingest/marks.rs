//! Chapters and soundbites on their way to the store: what a poll found on each item, and the
//! `podcast:chapters` JSON file, read like a transcript (same fetcher, size cap and link rules)
//! when the episode is processed. A chapters file that cannot be read is a warning naming the
//! episode and the URL; the episode goes on without those chapters.

use tracing::warn;

use super::chapters::parse_json_chapters;
use super::{Ingestor, Location};
use crate::core::model::{Episode, EpisodeId, EpisodeMarks};

impl Ingestor {
    /// Records what a poll found on one item: the chapters link (resolved against the feed, and
    /// refused like a transcript link when a remote feed points at a local file), Podlove
    /// chapters and soundbites. Chapters already read from the same chapters file are kept when
    /// the feed itself lists none. Failures are logged; the poll goes on.
    pub(super) async fn record_marks(
        &self,
        feed: &str,
        feed_loc: &Location,
        episode: EpisodeId,
        title: &str,
        mut marks: EpisodeMarks,
    ) {
        if let Some(url) = marks.chapters_url.take() {
            match feed_loc.join(&url) {
                Ok(l) => marks.chapters_url = Some(l.display()),
                Err(e) => {
                    warn!(feed = %feed, episode = %title, error = %e, "chapters link ignored")
                }
            }
        }
        if marks.is_empty() {
            return;
        }
        let stored = match self.store.episode_marks(episode).await {
            Ok(m) => m,
            Err(e) => {
                warn!(feed = %feed, episode = %title, error = %e, "cannot read the episode's chapters");
                EpisodeMarks::default()
            }
        };
        if marks.chapters.is_empty() && stored.chapters_url == marks.chapters_url {
            marks.chapters = stored.chapters.clone();
        }
        if marks != stored
            && let Err(e) = self.store.set_episode_marks(episode, &marks).await
        {
            warn!(feed = %feed, episode = %title, error = %e, "cannot store the episode's chapters");
        }
    }

    /// The episode's chapters and soundbites for extraction: stored ones, with the chapters file
    /// read now if the feed links one. Never fails: a problem is logged and what is known is used.
    pub(super) async fn read_marks(&self, ep: &Episode) -> EpisodeMarks {
        let mut marks = match self.store.episode_marks(ep.id).await {
            Ok(m) => m,
            Err(e) => {
                warn!(episode = %ep.meta.title, error = %e, "cannot read the episode's chapters");
                return EpisodeMarks::default();
            }
        };
        let Some(url) = marks.chapters_url.clone() else {
            return marks;
        };
        let read = match self.fetch(&Location::parse(&url), "chapters").await {
            Ok(bytes) => parse_json_chapters(&bytes).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(chapters) if !chapters.is_empty() => {
                if chapters != marks.chapters {
                    marks.chapters = chapters;
                    if let Err(e) = self.store.set_episode_marks(ep.id, &marks).await {
                        warn!(episode = %ep.meta.title, error = %e, "cannot store the episode's chapters");
                    }
                }
            }
            Ok(_) => {
                warn!(episode = %ep.meta.title, url = %url, "chapters file lists no chapters; going on without them")
            }
            Err(error) => {
                warn!(episode = %ep.meta.title, url = %url, %error, "chapters file unusable; going on without it")
            }
        }
        marks
    }
}
