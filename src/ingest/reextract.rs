//! `podbrief reextract`: every processed episode read again by the current engine, so a
//! database made by an older, shallower engine gets today's insights.
//!
//! The new extraction is matched to what is stored, passage by passage: a stored insight whose
//! passage a new one covers again (overlapping times, or much the same quote) is updated in
//! place and keeps its id, so an insight already delivered is never sent again as new. Other
//! new insights are added; stored ones no longer extracted are deleted unless they were
//! delivered (they stay, as sent). A delivered insight written by another engine or prompt
//! version than the new extraction's is left exactly as it was sent (the new insight of its
//! passage is dropped), so changing the LLM prompt rewrites nothing already delivered. The
//! episode's insights are then indexed again.

use tracing::{info, warn};

use super::{IngestError, Ingestor, progress};
use crate::core::model::{Episode, NewInsight};
use crate::core::text::similarity;
use crate::store::{Reextraction, StoredInsight};

/// Quotes at least this similar are the same passage.
const SAME_PASSAGE: f64 = 0.5;

/// What a re-extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReextractReport {
    /// Episodes read again.
    pub episodes: usize,
    /// Stored insights updated in place (ids kept).
    pub updated: usize,
    /// Insights added.
    pub added: usize,
    /// Stored insights removed (never delivered, no longer extracted).
    pub removed: usize,
    /// Episodes that failed, with the error (their insights are left as they were).
    pub errors: Vec<(String, String)>,
}

impl Ingestor {
    /// Re-extracts every processed episode, with a progress bar on a terminal.
    pub async fn reextract_all(&self, bars: bool) -> Result<ReextractReport, IngestError> {
        let episodes = self.store.done_episodes().await?;
        let progress = progress::Progress::new(bars);
        let phase = progress.phase("re-extracting", episodes.len() as u64);
        let mut report = ReextractReport::default();
        for ep in &episodes {
            phase.set_message(&ep.meta.title);
            match self.reextract(ep).await {
                Ok((updated, added, removed)) => {
                    report.episodes += 1;
                    report.updated += updated;
                    report.added += added;
                    report.removed += removed;
                }
                Err(e) => {
                    warn!(episode = %ep.meta.title, error = %e, "re-extraction failed; its insights are kept");
                    report.errors.push((ep.meta.title.clone(), e.to_string()));
                }
            }
            phase.inc();
        }
        phase.finish();
        info!(?report, "re-extraction done");
        Ok(report)
    }

    /// Re-extracts one episode: (updated, added, removed).
    async fn reextract(&self, ep: &Episode) -> Result<(usize, usize, usize), IngestError> {
        let segments = self.episode_segments(ep).await?;
        let text = self.episode_text(ep, segments).await;
        self.keep_subject(ep.id, &text).await?;
        let mut fresh = self
            .extractor
            .extract(&text)
            .await
            .map_err(|e| IngestError::Extract(e.to_string()))?;
        crate::extract::marks::place_in_chapters(&mut fresh, &text.marks.chapters);
        let stored = self.store.episode_insights(ep.id).await?;
        let plan = plan(&stored, fresh);
        let counts = (plan.update.len(), plan.insert.len(), plan.delete.len());
        self.store
            .apply_reextraction(ep.id, &plan, self.clock.now())
            .await?;
        let ids: Vec<_> = self
            .store
            .episode_insights(ep.id)
            .await?
            .iter()
            .map(|i| i.id)
            .collect();
        let views = self.store.insights(&ids).await?;
        self.index.remove_episode(ep.id)?;
        self.index.add(&views)?;
        Ok(counts)
    }
}

/// Matches a new extraction to the stored insights of the same episode.
pub fn plan(stored: &[StoredInsight], fresh: Vec<NewInsight>) -> Reextraction {
    let mut taken = vec![false; stored.len()];
    let mut out = Reextraction::default();
    for new in fresh {
        let same = |old: &StoredInsight| match (old.start_ms, old.end_ms, new.start_ms, new.end_ms)
        {
            (Some(a), Some(b), Some(c), Some(d)) => c < b && a < d,
            _ => similarity(&old.quote, &new.quote) >= SAME_PASSAGE,
        };
        // A delivered insight is matched first, so its id carries the new text.
        let found = (0..stored.len())
            .filter(|k| !taken[*k] && same(&stored[*k]))
            .max_by_key(|k| (stored[*k].delivered, std::cmp::Reverse(*k)));
        match found {
            Some(k) if stored[k].delivered && stored[k].origin != new.origin => taken[k] = true,
            Some(k) => {
                taken[k] = true;
                out.update.push((stored[k].id, new));
            }
            None => out.insert.push(new),
        }
    }
    out.delete = stored
        .iter()
        .zip(&taken)
        .filter(|(old, t)| !**t && !old.delivered)
        .map(|(old, _)| old.id)
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, start: i64, delivered: bool) -> StoredInsight {
        StoredInsight {
            id,
            quote: format!("quote {id}"),
            start_ms: Some(start),
            end_ms: Some(start + 10_000),
            origin: crate::core::model::Origin::extractive(),
            delivered,
        }
    }

    fn fresh(start: i64) -> NewInsight {
        NewInsight {
            text: format!("text at {start}"),
            quote: format!("quote at {start}"),
            start_ms: Some(start),
            end_ms: Some(start + 8_000),
            speaker: None,
            score: 0.5,
            topics: vec![],
            chapter: None,
            origin: crate::core::model::Origin::extractive(),
        }
    }

    #[test]
    fn delivered_insights_keep_their_ids_and_the_rest_is_replaced() {
        let old = [
            stored(1, 0, true),
            stored(2, 60_000, false),
            stored(3, 120_000, true),
        ];
        let plan = plan(&old, vec![fresh(2_000), fresh(200_000), fresh(62_000)]);
        let updated: Vec<i64> = plan.update.iter().map(|(id, _)| *id).collect();
        assert_eq!(updated, [1, 2]);
        assert_eq!(plan.insert.len(), 1);
        assert_eq!(plan.insert[0].start_ms, Some(200_000));
        // 3 was delivered and is no longer extracted: it stays.
        assert!(plan.delete.is_empty());
        let plan = super::plan(&old, vec![]);
        assert_eq!(plan.delete, [2]);
    }

    #[test]
    fn a_new_prompt_rewrites_nothing_already_delivered() {
        let old = [stored(1, 0, true), stored(2, 60_000, false)];
        let by_llm = |start| NewInsight {
            origin: crate::core::model::Origin::llm("insights-v9"),
            ..fresh(start)
        };
        let plan = plan(&old, vec![by_llm(2_000), by_llm(62_000)]);
        // 1 was delivered as the extractive engine wrote it: it stays as sent, and the new
        // takeaway of its passage is not added beside it. 2 was never sent: it is rewritten.
        let updated: Vec<i64> = plan.update.iter().map(|(id, _)| *id).collect();
        assert_eq!(updated, [2]);
        assert!(plan.insert.is_empty() && plan.delete.is_empty());
    }
}
