//! The search index over insights (tantivy): "related to X" and "more like this".
//!
//! The index is derived from the store: it is built from the store at start and updated as
//! insights arrive, and can always be rebuilt. User text is analysed into words with the index's
//! own analyser and turned into term queries directly, so it is never parsed as query syntax:
//! quotes, `AND`, `:` or `*` are just characters.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::core::model::{InsightId, InsightView};
use crate::core::text::{NEAR_DUPLICATE, similarity};

/// A failure of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// A search result: an insight id and its relevance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The insight.
    pub id: InsightId,
    /// Relevance (higher is better), comparable within one result list.
    pub score: f32,
}

struct Fields {
    id: Field,
    episode: Field,
    published: Field,
    text: Field,
    topics: Field,
    titles: Field,
    speaker: Field,
}

struct Stored {
    episode: i64,
    published: i64,
    text: String,
}

/// The insight index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    topics: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.len())
            .finish()
    }
}

const ANALYZER: &str = "podbrief_en";

/// Fetch this many times the requested hits before re-ranking and filtering.
const OVERFETCH: usize = 4;

impl SearchIndex {
    /// An empty index in memory.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let mut sb = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let text_opts = TextOptions::default().set_indexing_options(indexing.clone());
        let fields = Fields {
            id: sb.add_u64_field("id", INDEXED | STORED | FAST),
            episode: sb.add_i64_field("episode", STORED | FAST),
            published: sb.add_i64_field("published", STORED | FAST),
            text: sb.add_text_field("text", text_opts.clone().set_stored()),
            topics: sb.add_text_field("topics", text_opts.clone()),
            titles: sb.add_text_field("titles", text_opts.clone()),
            speaker: sb.add_text_field("speaker", STRING),
        };
        let index = Index::create_in_ram(sb.build());
        let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(
                StopWordFilter::new(Language::English).expect("tantivy ships English stop words"),
            )
            .filter(Stemmer::new(Language::English))
            .build();
        index.tokenizers().register(ANALYZER, analyzer);
        let writer = index.writer_with_num_threads(1, 30_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            topics: Mutex::new(HashMap::new()),
        })
    }

    /// Number of insights indexed.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds (or replaces) insights and makes them searchable.
    pub fn add(&self, insights: &[InsightView]) -> Result<(), SearchError> {
        if insights.is_empty() {
            return Ok(());
        }
        let f = &self.fields;
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        for i in insights {
            let id = i.id as u64;
            writer.delete_term(Term::from_field_u64(f.id, id));
            writer.add_document(doc!(
                f.id => id,
                f.episode => i.episode_id,
                f.published => i.published_at.timestamp(),
                f.text => i.text.as_str(),
                f.topics => i.topics.join(" , "),
                f.titles => format!("{} {}", i.podcast_title, i.episode_title),
                f.speaker => i.speaker.clone().unwrap_or_default(),
            ))?;
            for t in &i.topics {
                *topics.entry(t.clone()).or_default() += 1;
            }
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The analysed terms of user text (stemmed, no stop words), deduplicated, at most 32.
    fn terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = self
            .index
            .tokenizers()
            .get(ANALYZER)
            .expect("analyser registered at creation");
        let mut stream = analyzer.token_stream(text);
        let mut out: Vec<String> = Vec::new();
        while let Some(tok) = stream.next() {
            if !out.contains(&tok.text) && out.len() < 32 {
                out.push(tok.text.clone());
            }
        }
        out
    }

    fn query_for(&self, terms: &[String], fuzzy: bool) -> BooleanQuery {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in terms {
            for (field, boost) in [(f.text, 1.0), (f.topics, 1.5), (f.titles, 0.5)] {
                let q = TermQuery::new(
                    Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))));
            }
            if fuzzy && t.chars().count() >= 5 {
                let q = FuzzyTermQuery::new(Term::from_field_text(f.text, t), 1, true);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 0.3))));
            }
        }
        if (2..=6).contains(&terms.len()) {
            let phrase: Vec<Term> = terms
                .iter()
                .map(|t| Term::from_field_text(f.text, t))
                .collect();
            let mut q = PhraseQuery::new(phrase);
            q.set_slop(3);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 2.0))));
        }
        BooleanQuery::new(clauses)
    }

    fn run(
        &self,
        query: &dyn Query,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Hit, Stored)>, SearchError> {
        let searcher = self.reader.searcher();
        let top = searcher.search(query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let f = &self.fields;
            let (Some(id), Some(episode), Some(published)) = (
                d.get_first(f.id).and_then(|v| v.as_u64()),
                d.get_first(f.episode).and_then(|v| v.as_i64()),
                d.get_first(f.published).and_then(|v| v.as_i64()),
            ) else {
                continue;
            };
            let text = d
                .get_first(f.text)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            // Recency is a gentle boost: a month-old insight keeps ~90% of its score.
            let age_days = ((now.timestamp() - published).max(0) as f64) / 86_400.0;
            let fresh = 1.0 + 0.2 * 0.5f64.powf(age_days / 30.0);
            hits.push((
                Hit {
                    id: id as i64,
                    score: score * fresh as f32,
                },
                Stored {
                    episode,
                    published,
                    text,
                },
            ));
        }
        hits.sort_by(|a, b| {
            b.0.score
                .total_cmp(&a.0.score)
                .then(b.1.published.cmp(&a.1.published))
                .then(b.0.id.cmp(&a.0.id))
        });
        Ok(hits)
    }

    /// Insights related to user text, best first. Never fails on odd input: text is words.
    pub fn search(
        &self,
        text: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        let terms = self.terms(text);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let q = self.query_for(&terms, true);
        let mut hits = self.run(&q, limit * OVERFETCH, now)?;
        // Near-duplicates collapse to the best of them.
        let mut kept: Vec<(Hit, Stored)> = Vec::new();
        for h in hits.drain(..) {
            if kept
                .iter()
                .all(|k| similarity(&k.1.text, &h.1.text) < NEAR_DUPLICATE)
            {
                kept.push(h);
            }
            if kept.len() >= limit {
                break;
            }
        }
        Ok(kept.into_iter().map(|h| h.0).collect())
    }

    /// Insights like `insight`: never itself or a near-duplicate of it, and (unless
    /// `same_episode`) not from its own episode.
    pub fn related(
        &self,
        insight: &InsightView,
        limit: usize,
        same_episode: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        let mut source = insight.text.clone();
        for t in &insight.topics {
            source.push_str(" . ");
            source.push_str(t);
        }
        let terms = self.terms(&source);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let q = self.query_for(&terms, false);
        let hits = self.run(&q, limit * OVERFETCH + 8, now)?;
        let mut kept: Vec<(Hit, Stored)> = Vec::new();
        for h in hits {
            if h.0.id == insight.id
                || (!same_episode && h.1.episode == insight.episode_id)
                || similarity(&h.1.text, &insight.text) >= NEAR_DUPLICATE
                || kept
                    .iter()
                    .any(|k| similarity(&k.1.text, &h.1.text) >= NEAR_DUPLICATE)
            {
                continue;
            }
            kept.push(h);
            if kept.len() >= limit {
                break;
            }
        }
        Ok(kept.into_iter().map(|h| h.0).collect())
    }

    /// The most common topics, most frequent first.
    pub fn top_topics(&self, n: usize) -> Vec<String> {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(&String, &usize)> = topics.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut seen = HashSet::new();
        v.into_iter()
            .filter(|(t, _)| seen.insert(t.as_str()))
            .take(n)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: i64, episode: i64, text: &str, published: &str) -> InsightView {
        InsightView {
            id,
            text: text.into(),
            quote: text.into(),
            start_ms: None,
            speaker: None,
            score: 0.5,
            topics: vec![],
            content_hash: crate::core::text::content_hash(text),
            episode_id: episode,
            episode_title: "Episode".into(),
            episode_link: None,
            published_at: published.parse().unwrap(),
            podcast_id: 1,
            podcast_title: "Show".into(),
        }
    }

    #[test]
    fn finds_stems_typos_and_ignores_syntax() {
        let idx = SearchIndex::in_memory().unwrap();
        idx.add(&[
            view(
                1,
                1,
                "Export controls on chips reshaped data center plans.",
                "2026-11-01T00:00:00Z",
            ),
            view(
                2,
                2,
                "Sourdough acidity slows staling of bread.",
                "2026-11-01T00:00:00Z",
            ),
        ])
        .unwrap();
        let now = "2026-11-27T00:00:00Z".parse().unwrap();
        assert_eq!(idx.search("chip exports", 5, now).unwrap()[0].id, 1);
        assert_eq!(idx.search("sourdouhg", 5, now).unwrap()[0].id, 2);
        for odd in ["c++ \"foo", "title:x AND (", "*", "-", "🍞 bread"] {
            idx.search(odd, 5, now).unwrap();
        }
        assert!(idx.search("quasicrystalline", 5, now).unwrap().is_empty());
    }

    #[test]
    fn fresher_wins_ties_and_related_excludes_itself() {
        let idx = SearchIndex::in_memory().unwrap();
        let a = view(
            1,
            1,
            "Heat pumps work well in cold climates.",
            "2026-01-01T00:00:00Z",
        );
        let b = view(
            2,
            2,
            "Heat pumps work well in cold climates!",
            "2026-11-20T00:00:00Z",
        );
        let c = view(
            3,
            3,
            "Cold climates suit modern heat pumps with vapour injection.",
            "2026-11-20T00:00:00Z",
        );
        idx.add(&[a.clone(), b, c]).unwrap();
        let now = "2026-11-27T00:00:00Z".parse().unwrap();
        let hits = idx.search("heat pumps", 5, now).unwrap();
        assert_eq!(hits[0].id, 2, "{hits:?}");
        let rel: Vec<i64> = idx
            .related(&a, 5, false, now)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(rel, [3]);
    }
}
