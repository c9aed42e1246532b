//! The brief: which insights a chat gets.
//!
//! Candidates are insights not yet delivered to the subscription, from episodes published within
//! the lookback. Each is scored `quality × freshness × topic match`, then picked best-first under
//! diversity rules: at most `max_per_episode` per episode, `max_per_podcast` per show, and never a
//! near-duplicate of one already picked.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::core::model::InsightView;
use crate::core::text::{NEAR_DUPLICATE, normalize_topic, similarity, stems};

/// The knobs of the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct BriefRules {
    /// How many insights.
    pub size: usize,
    /// At most this many from one episode.
    pub max_per_episode: usize,
    /// At most this many from one podcast.
    pub max_per_podcast: usize,
    /// Freshness halves every this many days.
    pub half_life_days: f64,
}

/// A topic filter: insights on `prefer` rank higher, insights on `exclude` never appear.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicFilter {
    /// Preferred topics (normalised).
    pub prefer: Vec<String>,
    /// Excluded topics (normalised).
    pub exclude: Vec<String>,
}

impl TopicFilter {
    /// Reads a stored topic list, where `-topic` means excluded.
    pub fn from_list(topics: &[String]) -> TopicFilter {
        let mut f = TopicFilter::default();
        for t in topics {
            match t.strip_prefix('-') {
                Some(x) => f.exclude.push(normalize_topic(x)),
                None => f.prefer.push(normalize_topic(t)),
            }
        }
        f
    }

    /// How many topics of `list` this insight is on (see [`on_topic`]).
    fn hits(list: &[String], insight: &InsightView) -> usize {
        if list.is_empty() {
            return 0;
        }
        let about = insight_stems(insight);
        list.iter().filter(|t| on_topic(t, &about)).count()
    }

    /// Whether the insight belongs in a brief with this filter: on no excluded topic.
    pub fn admits(&self, insight: &InsightView) -> bool {
        TopicFilter::hits(&self.exclude, insight) == 0
    }
}

/// What an insight is about, as stems (see [`stems`]): its text, its topics, its episode's title
/// and its chapter's.
pub fn insight_stems(insight: &InsightView) -> HashSet<String> {
    let mut about: HashSet<String> = stems(&insight.text).into_iter().collect();
    for t in &insight.topics {
        about.extend(stems(t));
    }
    about.extend(stems(&insight.episode_title));
    if let Some(chapter) = &insight.chapter {
        about.extend(stems(chapter));
    }
    about
}

/// Whether an insight about `about` (from [`insight_stems`]) is on `topic`: every stem of the
/// topic is among them. How `/topics` preferences and exclusions match, everywhere a brief or
/// `/top` is ranked.
pub fn on_topic(topic: &str, about: &HashSet<String>) -> bool {
    let wanted = stems(topic);
    !wanted.is_empty() && wanted.iter().all(|w| about.contains(w))
}

/// Ranks `candidates` into a brief, best first.
pub fn rank(
    candidates: &[InsightView],
    rules: &BriefRules,
    filter: &TopicFilter,
    now: DateTime<Utc>,
) -> Vec<InsightView> {
    let mut scored: Vec<(f64, &InsightView)> = candidates
        .iter()
        .filter(|c| filter.admits(c))
        .map(|c| {
            let age_days = ((now - c.published_at).num_seconds().max(0) as f64) / 86_400.0;
            let freshness = 0.5f64.powf(age_days / rules.half_life_days.max(0.1));
            // A gentle floor keeps an archive rankable when everything is old.
            let freshness = 0.05 + 0.95 * freshness;
            let topic = 1.0 + TopicFilter::hits(&filter.prefer, c) as f64;
            (c.score * freshness * topic, c)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.published_at.cmp(&a.1.published_at))
            .then(a.1.id.cmp(&b.1.id))
    });

    let mut picked: Vec<InsightView> = Vec::new();
    let mut per_episode: HashMap<i64, usize> = HashMap::new();
    let mut per_podcast: HashMap<i64, usize> = HashMap::new();
    for (_, c) in scored {
        if picked.len() >= rules.size {
            break;
        }
        if per_episode.get(&c.episode_id).copied().unwrap_or(0) >= rules.max_per_episode
            || per_podcast.get(&c.podcast_id).copied().unwrap_or(0) >= rules.max_per_podcast
            || picked.iter().any(|p| {
                p.content_hash == c.content_hash || similarity(&p.text, &c.text) >= NEAR_DUPLICATE
            })
        {
            continue;
        }
        *per_episode.entry(c.episode_id).or_default() += 1;
        *per_podcast.entry(c.podcast_id).or_default() += 1;
        picked.push(c.clone());
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(id: i64, episode: i64, podcast: i64, score: f64, text: &str) -> InsightView {
        InsightView {
            id,
            text: text.into(),
            quote: text.into(),
            start_ms: None,
            end_ms: None,
            speaker: None,
            score,
            topics: vec![],
            content_hash: crate::core::text::content_hash(text),
            episode_id: episode,
            episode_title: format!("ep {episode}"),
            episode_link: None,
            published_at: "2026-11-20T00:00:00Z".parse().unwrap(),
            podcast_id: podcast,
            podcast_title: format!("pod {podcast}"),
            chapter: None,
        }
    }

    fn rules(size: usize) -> BriefRules {
        BriefRules {
            size,
            max_per_episode: 1,
            max_per_podcast: 2,
            half_life_days: 3.0,
        }
    }

    #[test]
    fn diversity_limits_apply() {
        let c = vec![
            insight(1, 1, 1, 0.9, "Heat pumps work at minus twenty degrees."),
            insight(2, 1, 1, 0.8, "Grid batteries smooth evening demand peaks."),
            insight(3, 2, 1, 0.7, "Offshore wind prices fell by half."),
            insight(4, 3, 1, 0.6, "Sourdough acidity slows staling."),
            insight(5, 4, 2, 0.5, "Searing does not seal in juices."),
        ];
        let now = "2026-11-21T00:00:00Z".parse().unwrap();
        let ids: Vec<i64> = rank(&c, &rules(5), &TopicFilter::default(), now)
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [1, 3, 5]);
    }

    #[test]
    fn topics_prefer_and_exclude() {
        let mut a = insight(1, 1, 1, 0.9, "Crypto miners buy cheap power.");
        a.topics = vec!["crypto".into()];
        let b = insight(2, 2, 2, 0.3, "Chip exports to China fell.");
        let now = "2026-11-21T00:00:00Z".parse().unwrap();
        let f = TopicFilter::from_list(&["chips".into(), "-crypto".into()]);
        let ids: Vec<i64> = rank(&[a, b], &rules(5), &f, now)
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [2]);
    }

    #[test]
    fn an_excluded_topic_matches_the_episode_title_and_chapter_stemmed() {
        let mut coffee = insight(1, 1, 1, 0.9, "Grind finer when the shot runs fast.");
        coffee.episode_title = "Extraction Yield: Dialing In Your Coffee".into();
        let mut roast = insight(2, 2, 2, 0.8, "Lighter beans need hotter water.");
        roast.chapter = Some("Roasting at home".into());
        let chips = insight(3, 3, 3, 0.3, "Chip exports to China fell.");
        let now = "2026-11-21T00:00:00Z".parse().unwrap();
        let ranked = |topics: &[&str]| -> Vec<i64> {
            let list: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
            let f = TopicFilter::from_list(&list);
            rank(
                &[coffee.clone(), roast.clone(), chips.clone()],
                &rules(5),
                &f,
                now,
            )
            .iter()
            .map(|i| i.id)
            .collect()
        };
        assert_eq!(ranked(&["chips", "-coffee"]), [2, 3]);
        assert_eq!(ranked(&["-roasted"]), [1, 3]);
        assert_eq!(ranked(&["-dialled in"]), [2, 3]);
        // A preferred topic matches the same way: the coffee episode ranks first.
        assert_eq!(ranked(&["chips", "coffees"])[0], 1);
    }
}
