//! Optional semantic ranking: insight vectors from an OpenAI-compatible `/v1/embeddings`
//! endpoint (OpenAI, Ollama, llama.cpp, vLLM, text-embeddings-inference), fused with the BM25
//! ranking by reciprocal rank fusion.
//!
//! Vectors live beside the index (`podbrief-vectors.bin` in the index directory, or in memory),
//! derived like the index: an insight added to the index is queued, and the queue is embedded
//! before the next lookup (at most [`EMBED_PER_LOOKUP`] texts at a time) and at start. When the
//! endpoint is down, lookups are plain BM25 and the queue waits. The file is append-only; once
//! it holds at least 1,024 records and more than half of them are dead (a removed insight's
//! vector, or one superseded by a newer record), it is rewritten with the live ones (written
//! beside it, then renamed over it). Vectors are compared by brute force (cosine), which suits
//! archives up to some hundred thousand insights.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Hit, LookupQuery, SearchError, SearchIndex, lookup::slug};
use crate::config::Secret;
use crate::core::model::{InsightId, InsightView};

/// The file of vectors in an index directory.
pub const VECTORS_FILE: &str = "podbrief-vectors.bin";
/// The vectors file being rewritten by a compaction (renamed over [`VECTORS_FILE`] when done).
pub const VECTORS_TMP_FILE: &str = "podbrief-vectors.bin.tmp";
/// At most this many queued insights are embedded before one lookup.
pub const EMBED_PER_LOOKUP: usize = 256;
/// Texts per request to the endpoint.
const BATCH: usize = 64;
/// Reciprocal rank fusion constant.
const RRF_K: f32 = 60.0;
/// Each ranking contributes its top this many to the fusion.
const FUSE_DEPTH: usize = 50;
/// The vectors file is rewritten with only live vectors when more than this share of its
/// records are dead (a removed insight's vector, or one superseded by a newer record)...
const COMPACT_DEAD_SHARE: f64 = 0.5;
/// ...and it holds at least this many records.
const COMPACT_MIN_RECORDS: usize = 1024;

/// A failure of the embeddings endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The request failed (connection, timeout, status).
    #[error("embeddings request failed: {0}")]
    Http(String),
    /// The answer was not the expected JSON.
    #[error("embeddings answer unreadable: {0}")]
    Answer(String),
}

/// A client of an OpenAI-compatible `/v1/embeddings` endpoint.
pub struct EmbeddingClient {
    http: reqwest::Client,
    url: String,
    model: String,
    key: Option<Secret>,
}

impl std::fmt::Debug for EmbeddingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingClient")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish()
    }
}

impl EmbeddingClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:11434/v1`; `/embeddings` is appended, and
    /// `/v1` too when the URL has no path).
    pub fn new(
        base_url: &str,
        model: &str,
        key: Option<Secret>,
        timeout: Duration,
    ) -> Result<EmbeddingClient, EmbedError> {
        let base = base_url.trim_end_matches('/');
        let url = match url::Url::parse(base) {
            Ok(u) if u.path() == "/" || u.path().is_empty() => format!("{base}/v1/embeddings"),
            Ok(_) => format!("{base}/embeddings"),
            Err(e) => return Err(EmbedError::Http(format!("{base_url:?} is not a URL: {e}"))),
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| EmbedError::Http(e.to_string()))?;
        Ok(EmbeddingClient {
            http,
            url,
            model: model.to_string(),
            key,
        })
    }

    /// The vectors of `texts`, in order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        #[derive(serde::Deserialize)]
        struct Item {
            embedding: Vec<f32>,
            #[serde(default)]
            index: Option<usize>,
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        let body = serde_json::json!({ "model": self.model, "input": texts });
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = &self.key {
            req = req.bearer_auth(k.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| EmbedError::Http(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(EmbedError::Http(format!("status {status}")));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| EmbedError::Http(e.without_url().to_string()))?;
        let answer: Answer =
            serde_json::from_slice(&bytes).map_err(|e| EmbedError::Answer(e.to_string()))?;
        if answer.data.len() != texts.len() {
            return Err(EmbedError::Answer(format!(
                "{} vectors for {} texts",
                answer.data.len(),
                texts.len()
            )));
        }
        let mut items = answer.data;
        if items.iter().all(|i| i.index.is_some()) {
            items.sort_by_key(|i| i.index.unwrap_or(0));
        }
        Ok(items.into_iter().map(|i| normalized(i.embedding)).collect())
    }
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Entry {
    published: i64,
    slug: String,
    vector: Vec<f32>,
}

struct Pending {
    id: InsightId,
    published: i64,
    slug: String,
    text: String,
}

#[derive(Default)]
struct State {
    vectors: HashMap<InsightId, Entry>,
    pending: Vec<Pending>,
    /// Records in the vectors file, live or dead.
    records: usize,
}

/// Whether a vectors file of `records` records, `live` of them live, is worth rewriting.
fn needs_compaction(records: usize, live: usize) -> bool {
    records >= COMPACT_MIN_RECORDS
        && records.saturating_sub(live) as f64 > COMPACT_DEAD_SHARE * records as f64
}

/// Appends one vectors-file record to `out`.
fn encode(out: &mut Vec<u8>, id: InsightId, e: &Entry) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&e.published.to_le_bytes());
    let mut n = e.slug.len().min(u16::MAX as usize);
    while !e.slug.is_char_boundary(n) {
        n -= 1;
    }
    let s = &e.slug.as_bytes()[..n];
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s);
    out.extend_from_slice(&(e.vector.len() as u32).to_le_bytes());
    for x in &e.vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// The vectors of an index and its embedding client (none: semantic ranking is off).
pub(super) struct Semantic {
    file: Option<PathBuf>,
    client: Mutex<Option<Arc<EmbeddingClient>>>,
    state: Mutex<State>,
}

impl Semantic {
    pub(super) fn new(dir: Option<&Path>) -> Semantic {
        Semantic {
            file: dir.map(|d| d.join(VECTORS_FILE)),
            client: Mutex::new(None),
            state: Mutex::new(State::default()),
        }
    }

    fn client(&self) -> Option<Arc<EmbeddingClient>> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn queue(&self, insights: &[InsightView]) {
        if self.client().is_none() {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for i in insights {
            st.pending.push(Pending {
                id: i.id,
                published: i.published_at.timestamp(),
                slug: slug(&i.podcast_title),
                text: i.text.clone(),
            });
        }
    }

    pub(super) fn clear(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.vectors.clear();
        st.records = 0;
        if let Some(f) = &self.file {
            let _ = std::fs::write(f, b"");
        }
    }

    /// Reads the vectors file (records: id i64, published i64, slug length u16, slug, dim u32,
    /// dim × f32, little-endian). A truncated tail is ignored.
    fn load(&self) {
        let Some(path) = &self.file else { return };
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut records = 0;
        let mut r = &buf[..];
        fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            if r.len() < n {
                return None;
            }
            let (a, b) = r.split_at(n);
            *r = b;
            Some(a)
        }
        while !r.is_empty() {
            let rec = (|| {
                let id = i64::from_le_bytes(take(&mut r, 8)?.try_into().ok()?);
                let published = i64::from_le_bytes(take(&mut r, 8)?.try_into().ok()?);
                let n = u16::from_le_bytes(take(&mut r, 2)?.try_into().ok()?) as usize;
                let slug = String::from_utf8_lossy(take(&mut r, n)?).into_owned();
                let dim = u32::from_le_bytes(take(&mut r, 4)?.try_into().ok()?) as usize;
                let raw = take(&mut r, dim.checked_mul(4)?)?;
                let vector = raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Some((
                    id,
                    Entry {
                        published,
                        slug,
                        vector,
                    },
                ))
            })();
            match rec {
                Some((id, e)) => {
                    st.vectors.insert(id, e);
                    records += 1;
                }
                None => break,
            }
        }
        st.records = records;
        self.compact_if_worth_it(&mut st);
    }

    /// Appends records to the vectors file (the caller holds the state lock, so a compaction
    /// cannot run in between).
    fn append(&self, st: &mut State, entries: &[(InsightId, Entry)]) {
        let Some(path) = &self.file else { return };
        let mut out = Vec::new();
        for (id, e) in entries {
            encode(&mut out, *id, e);
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(&out));
        match written {
            Ok(()) => st.records += entries.len(),
            Err(e) => {
                tracing::warn!(error = %e, file = %path.display(), "cannot save insight vectors")
            }
        }
    }

    /// Rewrites the vectors file with only the live vectors when most of its records are dead.
    /// The new file is written beside it and renamed over it, so a crash leaves one or the other.
    fn compact_if_worth_it(&self, st: &mut State) {
        let Some(path) = &self.file else { return };
        if !needs_compaction(st.records, st.vectors.len()) {
            return;
        }
        let mut out = Vec::new();
        for (id, e) in &st.vectors {
            encode(&mut out, *id, e);
        }
        let tmp = path.with_file_name(VECTORS_TMP_FILE);
        let done = std::fs::write(&tmp, &out).and_then(|()| std::fs::rename(&tmp, path));
        match done {
            Ok(()) => {
                tracing::debug!(
                    live = st.vectors.len(),
                    dead = st.records - st.vectors.len(),
                    "compacted the insight vectors file"
                );
                st.records = st.vectors.len();
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(error = %e, file = %path.display(), "cannot compact insight vectors");
            }
        }
    }

    /// Embeds up to `max` queued insights. Returns how many were embedded.
    async fn embed_pending(&self, max: usize) -> Result<usize, EmbedError> {
        let Some(client) = self.client() else {
            return Ok(0);
        };
        let mut done = 0;
        while done < max {
            let batch: Vec<Pending> = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let n = st.pending.len().min(BATCH).min(max - done);
                st.pending.drain(..n).collect()
            };
            if batch.is_empty() {
                break;
            }
            let texts: Vec<String> = batch.iter().map(|p| p.text.clone()).collect();
            match client.embed(&texts).await {
                Ok(vectors) => {
                    let entries: Vec<(InsightId, Entry)> = batch
                        .into_iter()
                        .zip(vectors)
                        .map(|(p, vector)| {
                            (
                                p.id,
                                Entry {
                                    published: p.published,
                                    slug: p.slug,
                                    vector,
                                },
                            )
                        })
                        .collect();
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    self.append(&mut st, &entries);
                    done += entries.len();
                    st.vectors.extend(entries);
                    // A re-embedded insight supersedes its older record.
                    self.compact_if_worth_it(&mut st);
                }
                Err(e) => {
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    let rest = std::mem::take(&mut st.pending);
                    st.pending = batch;
                    st.pending.extend(rest);
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// The ids nearest to `query` (cosine), passing the lookup's filters, best first.
    fn nearest(
        &self,
        query: &[f32],
        q: &LookupQuery,
        slugs: &[String],
        n: usize,
    ) -> Vec<InsightId> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let since = q.since.map(|t| t.timestamp());
        let mut scored: Vec<(f32, InsightId)> = st
            .vectors
            .iter()
            .filter(|(_, e)| since.is_none_or(|s| e.published >= s))
            .filter(|(_, e)| q.podcasts.is_empty() || slugs.contains(&e.slug))
            .map(|(id, e)| (dot(query, &e.vector), *id))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        scored.truncate(n);
        scored.into_iter().map(|s| s.1).collect()
    }

    /// The `n` insights nearest to insight `id`'s own vector (cosine), best first, without
    /// itself; `None` when it has no vector (or semantic ranking is off).
    pub(super) fn neighbours(&self, id: InsightId, n: usize) -> Option<Vec<(InsightId, f32)>> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let me = &st.vectors.get(&id)?.vector;
        let mut scored: Vec<(InsightId, f32)> = st
            .vectors
            .iter()
            .filter(|(other, _)| **other != id)
            .map(|(other, e)| (*other, dot(me, &e.vector)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        scored.truncate(n);
        Some(scored)
    }

    fn forget(&self, ids: &[InsightId]) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            st.vectors.remove(id);
        }
        self.compact_if_worth_it(&mut st);
    }

    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .vectors
            .len()
    }
}

impl SearchIndex {
    /// Turns semantic ranking on: loads stored vectors and queues every indexed insight that has
    /// none. Call before [`super::sync::follow`].
    pub fn set_embeddings(&self, client: EmbeddingClient) -> Result<(), SearchError> {
        *self
            .semantic
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(client));
        self.semantic.load();
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut missing = Vec::new();
        {
            let st = self
                .semantic
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (ord, seg) in searcher.segment_readers().iter().enumerate() {
                for doc in seg.doc_ids_alive() {
                    let d: tantivy::TantivyDocument =
                        searcher.doc(tantivy::DocAddress::new(ord as u32, doc))?;
                    use tantivy::schema::Value;
                    let id = d.get_first(f.id).and_then(|v| v.as_u64()).unwrap_or(0) as i64;
                    if id == 0 || st.vectors.contains_key(&id) {
                        continue;
                    }
                    missing.push(Pending {
                        id,
                        published: d
                            .get_first(f.published)
                            .and_then(|v| v.as_i64())
                            .unwrap_or(0),
                        slug: d
                            .get_first(f.podcast_slug)
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        text: d
                            .get_first(f.text)
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                    });
                }
            }
        }
        self.semantic
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .extend(missing);
        Ok(())
    }

    /// Whether semantic ranking is on.
    pub fn semantic_enabled(&self) -> bool {
        self.semantic.client().is_some()
    }

    /// Insights with a stored vector.
    pub fn vectors(&self) -> usize {
        self.semantic.len()
    }

    /// Embeds every queued insight now (at start, after following the store). Returns how many.
    pub async fn embed_pending(&self) -> Result<usize, EmbedError> {
        self.semantic.embed_pending(usize::MAX).await
    }

    /// Like [`SearchIndex::search`], fused with the vector ranking when semantic ranking is on.
    /// If the endpoint fails, the answer is the BM25 ranking.
    pub async fn search_hybrid(
        &self,
        text: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        let q = LookupQuery::parse(text, now);
        let Some(client) = self.semantic.client() else {
            return self.lookup(&q, limit, now);
        };
        let bm25 = self.lookup(&q, FUSE_DEPTH.max(limit), now)?;
        if self.terms(&q.words).is_empty() || limit == 0 {
            return Ok(bm25.into_iter().take(limit).collect());
        }
        if let Err(e) = self.semantic.embed_pending(EMBED_PER_LOOKUP).await {
            tracing::warn!(error = %e, "embeddings endpoint failed; BM25 ranking only");
            return Ok(bm25.into_iter().take(limit).collect());
        }
        let query = match client.embed(std::slice::from_ref(&q.words)).await {
            Ok(mut v) if !v.is_empty() => v.swap_remove(0),
            Ok(_) => return Ok(bm25.into_iter().take(limit).collect()),
            Err(e) => {
                tracing::warn!(error = %e, "embeddings endpoint failed; BM25 ranking only");
                return Ok(bm25.into_iter().take(limit).collect());
            }
        };
        let slugs = if q.podcasts.is_empty() {
            Vec::new()
        } else {
            self.matching_slugs(&self.reader.searcher(), &q.podcasts)
        };
        let dense = self.semantic.nearest(&query, &q, &slugs, FUSE_DEPTH);
        let alive = self.alive(&dense)?;
        let dense: Vec<InsightId> = dense.into_iter().filter(|i| alive.contains(i)).collect();
        let mut fused: HashMap<InsightId, f32> = HashMap::new();
        for (rank, h) in bm25.iter().enumerate() {
            *fused.entry(h.id).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        for (rank, id) in dense.iter().enumerate() {
            *fused.entry(*id).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        let mut out: Vec<Hit> = fused
            .into_iter()
            .map(|(id, score)| Hit { id, score })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.id.cmp(&a.id)));
        out.truncate(limit);
        Ok(out)
    }

    /// Which of `ids` are still in the index (a removed insight may keep its vector a while).
    fn alive(
        &self,
        ids: &[InsightId],
    ) -> Result<std::collections::HashSet<InsightId>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = std::collections::HashSet::new();
        let mut gone = Vec::new();
        for id in ids {
            let t = tantivy::Term::from_field_u64(self.fields.id, *id as u64);
            let q = tantivy::query::TermQuery::new(t, tantivy::schema::IndexRecordOption::Basic);
            if searcher.search(&q, &tantivy::collector::Count)? > 0 {
                out.insert(*id);
            } else {
                gone.push(*id);
            }
        }
        self.semantic.forget(&gone);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> (InsightId, Entry) {
        (
            i,
            Entry {
                published: 1_700_000_000 + i,
                slug: format!("show-{}", i % 3),
                vector: vec![i as f32, 1.0],
            },
        )
    }

    #[test]
    fn the_threshold_needs_enough_records_and_mostly_dead_ones() {
        assert!(!needs_compaction(0, 0));
        assert!(!needs_compaction(COMPACT_MIN_RECORDS - 1, 0));
        assert!(!needs_compaction(2000, 1000));
        assert!(needs_compaction(2000, 999));
        assert!(needs_compaction(2000, 0));
        assert!(!needs_compaction(2000, 2000));
    }

    #[test]
    fn the_vectors_file_is_compacted_when_most_records_are_dead() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(VECTORS_FILE);
        let sem = Semantic::new(Some(dir.path()));
        let n = COMPACT_MIN_RECORDS as i64 + 100;
        {
            let mut st = sem.state.lock().unwrap();
            let entries: Vec<(InsightId, Entry)> = (1..=n).map(entry).collect();
            sem.append(&mut st, &entries);
            st.vectors.extend(entries);
            assert_eq!(st.records, n as usize);
        }
        let full = std::fs::metadata(&file).unwrap().len();
        // Removing under half of them leaves the file as it is.
        let few: Vec<InsightId> = (1..=n / 4).collect();
        sem.forget(&few);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), full);
        // Removing most of them rewrites it with the live ones only.
        let most: Vec<InsightId> = (n / 4..=n - 10).collect();
        sem.forget(&most);
        let live = sem.len();
        assert_eq!(live, 10);
        assert_eq!(sem.state.lock().unwrap().records, live);
        assert!(std::fs::metadata(&file).unwrap().len() < full / 10);
        assert!(!dir.path().join(VECTORS_TMP_FILE).exists());
        // What is read back is exactly the live vectors.
        let again = Semantic::new(Some(dir.path()));
        again.load();
        let st = again.state.lock().unwrap();
        assert_eq!(st.records, 10);
        let mut ids: Vec<InsightId> = st.vectors.keys().copied().collect();
        ids.sort();
        assert_eq!(ids, ((n - 9)..=n).collect::<Vec<_>>());
        let e = &st.vectors[&n];
        assert_eq!(
            (e.published, e.slug.as_str(), e.vector.clone()),
            (
                1_700_000_000 + n,
                format!("show-{}", n % 3).as_str(),
                vec![n as f32, 1.0]
            )
        );
    }

    #[test]
    fn a_file_full_of_superseded_records_is_compacted_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let sem = Semantic::new(Some(dir.path()));
        {
            let mut st = sem.state.lock().unwrap();
            // The same five insights embedded over and over.
            for _ in 0..(COMPACT_MIN_RECORDS / 5 + 1) {
                let entries: Vec<(InsightId, Entry)> = (1..=5).map(entry).collect();
                sem.append(&mut st, &entries);
            }
        }
        let again = Semantic::new(Some(dir.path()));
        again.load();
        assert_eq!(again.len(), 5);
        assert_eq!(again.state.lock().unwrap().records, 5);
        let third = Semantic::new(Some(dir.path()));
        third.load();
        assert_eq!(third.state.lock().unwrap().records, 5);
    }
}
