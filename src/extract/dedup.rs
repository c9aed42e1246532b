//! Near-duplicate insights across episodes.
//!
//! The store keeps an insight once by its `content_hash` (the same words); this wrapper also
//! drops an insight whose words are nearly those of one extracted earlier by this process (a
//! show repeating its point next week, a clip replayed in another show). It remembers the last
//! [`DedupAcrossEpisodes::capacity`] insights in memory only, so after a restart only the store's
//! exact check applies to older insights.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{EpisodeText, ExtractError, Extractor};
use crate::core::model::NewInsight;
use crate::core::text::{NEAR_DUPLICATE, similarity};

/// Wraps an extractor and drops insights that nearly repeat a recent one.
pub struct DedupAcrossEpisodes {
    inner: Arc<dyn Extractor>,
    /// Recent insights: (episode, text).
    recent: Mutex<VecDeque<(String, String)>>,
    capacity: usize,
}

impl DedupAcrossEpisodes {
    /// Wraps `inner`, remembering up to `capacity` recent insights.
    pub fn new(inner: Arc<dyn Extractor>, capacity: usize) -> Self {
        DedupAcrossEpisodes {
            inner,
            recent: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many recent insights are remembered.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keeps the insights that repeat none of the remembered ones of other episodes (nor each
    /// other), and remembers them. The same episode read again (`podbrief reextract`) is not its
    /// own duplicate.
    pub fn filter(&self, episode: &str, insights: Vec<NewInsight>) -> Vec<NewInsight> {
        let mut recent = match self.recent.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut kept = Vec::new();
        for i in insights {
            if kept
                .iter()
                .any(|k: &NewInsight| similarity(&k.text, &i.text) >= NEAR_DUPLICATE)
                || recent
                    .iter()
                    .any(|(e, r)| e != episode && similarity(r, &i.text) >= NEAR_DUPLICATE)
            {
                continue;
            }
            recent.push_back((episode.to_string(), i.text.clone()));
            while recent.len() > self.capacity {
                recent.pop_front();
            }
            kept.push(i);
        }
        kept
    }
}

#[async_trait]
impl Extractor for DedupAcrossEpisodes {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn extract(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, ExtractError> {
        let found = self.inner.extract(episode).await?;
        let key = format!("{}\n{}", episode.podcast, episode.title);
        Ok(self.filter(&key, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ExtractiveEngine;

    fn ins(text: &str) -> NewInsight {
        NewInsight {
            text: text.into(),
            quote: text.into(),
            start_ms: None,
            end_ms: None,
            speaker: None,
            score: 0.5,
            topics: vec![],
            chapter: None,
            origin: crate::core::model::Origin::extractive(),
        }
    }

    #[test]
    fn a_near_repeat_from_another_episode_is_dropped() {
        let d = DedupAcrossEpisodes::new(Arc::new(ExtractiveEngine::default()), 10);
        let first = d.filter(
            "episode 1",
            vec![ins(
                "Sodium-ion cells cost about 20 percent less than lithium iron phosphate.",
            )],
        );
        assert_eq!(first.len(), 1);
        let second = d.filter("episode 2", vec![
            ins("Sodium-ion cells cost about 20 percent less than lithium iron phosphate cells."),
            ins("Sourdough starters need flour, water and a warm kitchen."),
        ]);
        assert_eq!(second.len(), 1);
        assert!(second[0].text.starts_with("Sourdough"));
    }
}
