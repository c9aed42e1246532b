//! The search index over insights (tantivy): "related to X", "more like this" and top topics.
//!
//! The index is derived from the store: it holds each insight's text, quote, topics, podcast and
//! episode titles, speaker and date. It lives in a directory (`search.index_dir`) so a restart does
//! not rebuild it: each commit records the schema version and the last insight id indexed, and at
//! start only newer insights (and recent ones committed out of order) are added
//! ([`sync::follow`]). A changed schema version (or
//! `podbrief index rebuild`) rebuilds it from the store. With no directory it lives in memory.
//!
//! User text is analysed into words with the index's own analyser and turned into term queries
//! directly, so it is never parsed as query syntax: quotes, `AND`, `:` or `*` are just characters.
//! Only the `in:` and `since:` filters are read from it ([`lookup::LookupQuery`]).
//!
//! Every searchable word of an insight (its text, quote, topics, podcast and episode titles and
//! speaker) is indexed in one field, `all`, with the text first so that its word positions are
//! the text's own. A lookup runs in two stages ([`lookup`] says how its words are read and how
//! its results are gathered by episode). The first is a plain disjunction of term queries on
//! that one field, which tantivy answers with block-max WAND: it keeps the top candidates
//! without scoring every match, so common words stay fast. The second stage re-ranks that short
//! list: words found close together (a phrase, give or take 3 words) and fresh insights gain a
//! little, and near-duplicates collapse to the best of them. Stage two reads no stored document:
//! ids, episodes and dates come from fast fields (their columns opened once per segment and
//! kept), word positions from the index's postings, and the near-duplicate check compares
//! content-word signatures kept in a fast field at index time ([`signature`]).

pub mod embed;
pub mod eval;
pub mod import;
pub mod judged;
pub mod lookup;
pub mod related;
pub mod subject;
pub mod sync;
pub mod synonyms;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::columnar::{Column, ColumnValues};
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term, doc,
};

use crate::core::model::{EpisodeId, InsightId, InsightView, PodcastId};
use crate::core::text::{NEAR_DUPLICATE, content_words};
pub use lookup::LookupQuery;

/// The version of the index layout. An index on disk with another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 4;

/// A failure of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory cannot be used.
    #[error("search index directory {path}: {message}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another process writes to this index.
    #[error(
        "the search index in {0} is in use by another podbrief process (stop it, or give this one its own search.index_dir)"
    )]
    Busy(PathBuf),
}

/// A search result: an insight id and its relevance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The insight.
    pub id: InsightId,
    /// Relevance (higher is better), comparable within one result list.
    pub score: f32,
}

/// What the index holds and how it was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStatus {
    /// Insights indexed now.
    pub docs: u64,
    /// Insights found in the index when it was opened (0 for a new or rebuilt index).
    pub docs_at_open: u64,
    /// Insights added since it was opened.
    pub added_since_open: u64,
    /// The largest insight id indexed.
    pub last_id: InsightId,
    /// Why the index on disk was discarded at open (a schema change, unreadable), if it was.
    pub reset_reason: Option<String>,
    /// The directory, or `None` in memory.
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    episode: Field,
    podcast: Field,
    podcast_slug: Field,
    published: Field,
    text: Field,
    all: Field,
    topic: Field,
    signature: Field,
}

/// A stage-one candidate with what stage two reads of it from fast fields (no stored document).
struct Candidate {
    hit: Hit,
    addr: DocAddress,
    episode: i64,
    published: i64,
    /// Its content-word signature (see [`signature`]).
    signature: Vec<u64>,
}

/// The fast-field columns stage one reads, of one segment (opened once per segment: a segment's
/// columns never change while it exists, deletes only mark documents).
struct Columns {
    id: Column<u64>,
    episode: Column<i64>,
    published: Column<i64>,
    signature: Column<u64>,
}

/// Content words kept in a signature at most (the smallest hashes: a bottom-k sketch, exact for
/// texts with fewer distinct content words).
const SIGNATURE_WORDS: usize = 64;
/// Bits kept of each content word's hash (collisions between two texts' words are negligible:
/// two signatures of 64 share a false element once in 500 pairs).
const SIGNATURE_BITS: u32 = 21;
/// Signature hashes stored in one fast-field value ([`SIGNATURE_BITS`] each): a third of the
/// values to unpack for each candidate of a lookup.
const HASHES_PER_VALUE: usize = 3;

/// The near-duplicate signature of a text: the hashes of its distinct content words (as
/// [`crate::core::text::content_words`] finds them), sorted, at most [`SIGNATURE_WORDS`]. The
/// Jaccard similarity of two signatures is that of the texts' content-word sets, which
/// `core::text::similarity` computes from the texts. Stable across processes and versions (it is
/// stored in the index): FNV-1a, folded to [`SIGNATURE_BITS`].
pub fn signature(text: &str) -> Vec<u64> {
    let mut out: Vec<u64> = content_words(text)
        .iter()
        .map(|w| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in w.as_bytes() {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (h ^ (h >> SIGNATURE_BITS) ^ (h >> (2 * SIGNATURE_BITS))) & ((1 << SIGNATURE_BITS) - 1)
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(SIGNATURE_WORDS);
    out
}

/// A signature as stored: [`HASHES_PER_VALUE`] hashes to a value, the last value padded with
/// its last hash (which [`unpack_signature`] drops).
fn pack_signature(sig: &[u64]) -> Vec<u64> {
    sig.chunks(HASHES_PER_VALUE)
        .map(|c| {
            (0..HASHES_PER_VALUE).fold(0, |v, k| {
                let h = c.get(k).or(c.last()).copied().unwrap_or(0);
                v | h << (k as u32 * SIGNATURE_BITS)
            })
        })
        .collect()
}

/// The sorted signature of stored values (see [`pack_signature`]).
fn unpack_signature(values: &[u64]) -> Vec<u64> {
    let mask = (1u64 << SIGNATURE_BITS) - 1;
    let mut out = Vec::with_capacity(values.len() * HASHES_PER_VALUE);
    for v in values {
        for k in 0..HASHES_PER_VALUE {
            out.push(v >> (k as u32 * SIGNATURE_BITS) & mask);
        }
    }
    // Sorted here: the index need not keep a document's values in the order they were added.
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted signatures, as `core::text::similarity` computes it of the
/// texts (0 when either is empty).
#[cfg(test)]
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    jaccard_of(a, b, shared(a, b, 0))
}

/// Whether two sorted signatures are near-duplicates (Jaccard at least [`NEAR_DUPLICATE`]),
/// exactly as [`jaccard`] says, without walking most pairs to the end: Jaccard never exceeds
/// the shorter's length over the longer's, and the walk stops once too few elements are left.
fn near_duplicate(a: &[u64], b: &[u64]) -> bool {
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    if short == 0 || (short as f64) < NEAR_DUPLICATE * long as f64 {
        return false;
    }
    jaccard_of(a, b, shared(a, b, near_duplicate_needs(a, b))) >= NEAR_DUPLICATE
}

/// For signatures in rank order: whether each is the first of its near-duplicates (none kept
/// before it is a near-duplicate of it), as comparing each with every one kept says. Most pairs
/// are ruled out by [`Buckets`] before their elements are walked.
fn first_of_each<'a>(signatures: impl Iterator<Item = &'a [u64]>) -> Vec<bool> {
    let mut kept: Vec<(&[u64], Buckets)> = Vec::new();
    let mut out = Vec::new();
    for sig in signatures {
        let buckets = Buckets::of(sig);
        let fresh = kept.iter().all(|(k, kb)| {
            kb.shared_at_most(&buckets) < near_duplicate_needs(k, sig) || !near_duplicate(k, sig)
        });
        out.push(fresh);
        if fresh {
            kept.push((sig, buckets));
        }
    }
    out
}

/// How many elements of a signature fall in each of 64 buckets (by their low bits): two
/// signatures share at most the sum, over the buckets, of the smaller of their two counts.
struct Buckets([u8; 64]);

impl Buckets {
    fn of(sig: &[u64]) -> Buckets {
        let mut b = [0u8; 64];
        for e in sig {
            let slot = &mut b[(*e & 63) as usize];
            *slot = slot.saturating_add(1);
        }
        Buckets(b)
    }

    /// An upper bound of the elements the two signatures share.
    fn shared_at_most(&self, other: &Buckets) -> usize {
        let sum: u16 = self
            .0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| u16::from(*a.min(b)))
            .sum();
        usize::from(sum)
    }
}

/// A number of shared elements below which two signatures cannot be near-duplicates (Jaccard
/// at least `t` needs `t(|a|+|b|)/(1+t)`; one less, to stay on the safe side of rounding).
fn near_duplicate_needs(a: &[u64], b: &[u64]) -> usize {
    let t = NEAR_DUPLICATE;
    ((t * (a.len() + b.len()) as f64 / (1.0 + t)) as usize).saturating_sub(1)
}

/// Jaccard similarity from the count of shared elements.
fn jaccard_of(a: &[u64], b: &[u64], inter: usize) -> f64 {
    inter as f64 / ((a.len() + b.len() - inter) as f64)
}

/// The elements two sorted lists share; once fewer than `need` can be reached, what was
/// counted so far (then short of `need`).
fn shared(a: &[u64], b: &[u64], need: usize) -> usize {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        if inter + (a.len() - i).min(b.len() - j) < need {
            return inter;
        }
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    schema: u32,
    last_id: i64,
}

/// Topic counts read from the index, with the searcher generation they were read at.
type TopicCounts = (u64, Vec<(String, u64)>);

/// The insight index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    dir: Option<PathBuf>,
    last_id: AtomicI64,
    docs_at_open: u64,
    added: AtomicU64,
    reset_reason: Option<String>,
    topics_cache: Mutex<Option<TopicCounts>>,
    /// The fast-field columns of the segments lookups have read, by segment (forgotten once the
    /// segment is merged away).
    columns: Mutex<HashMap<SegmentId, Arc<Columns>>>,
    semantic: embed::Semantic,
    /// Every known episode's subject (from the store; not part of the index on disk).
    subjects: subject::Subjects,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.len())
            .field("dir", &self.dir)
            .finish()
    }
}

const ANALYZER: &str = "podbrief_en";

/// Stage one of "more like this" keeps this many times the requested hits (plus
/// [`OVERFETCH_MIN`]) for re-ranking and for the insight's own near-duplicates it drops.
const OVERFETCH: usize = 2;
/// The fewest candidates stage one keeps beyond the requested hits.
const OVERFETCH_MIN: usize = 8;

/// How many candidates a lookup's stage one keeps for `limit` hits: twice as many, and at least
/// [`OVERFETCH_MIN`] more (room for re-ranking and the near-duplicate collapse). Each candidate
/// kept lowers the score block-max WAND must beat, so more of a common word's matches are
/// scored: a few beyond the requested hits are what small lookups can afford. On Cranfield this
/// ranks as the former 2 × limit + 8 did for 5, 10, 20 and 100 hits.
fn lookup_depth(limit: usize) -> usize {
    limit.saturating_add(limit.max(OVERFETCH_MIN))
}

/// Words at most this far apart count as "close together" for the proximity boost.
const PROXIMITY: u32 = 3;
/// Memory of the index writer.
const WRITER_HEAP: usize = 50_000_000;

fn build_schema() -> Schema {
    let mut sb = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    sb.add_u64_field("id", INDEXED | STORED | FAST);
    sb.add_i64_field("episode", INDEXED | STORED | FAST);
    sb.add_i64_field("podcast", INDEXED | FAST);
    // Stored too: vectors embedded later (semantic ranking turned on) read it back.
    sb.add_text_field("podcast_slug", STRING | STORED);
    sb.add_i64_field("published", INDEXED | STORED | FAST);
    // The text is stored (semantic ranking embeds it) but searched through `all`.
    sb.add_text_field("text", STORED);
    sb.add_text_field("all", TextOptions::default().set_indexing_options(indexing));
    sb.add_text_field("topic", STRING);
    sb.add_u64_field("signature", FAST);
    sb.build()
}

fn fields_of(schema: &Schema) -> Option<Fields> {
    let f = |name: &str| schema.get_field(name).ok();
    Some(Fields {
        id: f("id")?,
        episode: f("episode")?,
        podcast: f("podcast")?,
        podcast_slug: f("podcast_slug")?,
        published: f("published")?,
        text: f("text")?,
        all: f("all")?,
        topic: f("topic")?,
        signature: f("signature")?,
    })
}

fn analyzer() -> TextAnalyzer {
    let stop = StopWordFilter::new(Language::English)
        .unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new()));
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Whether a file in an index directory belongs to the index (and may be removed with it).
fn is_index_file(name: &str) -> bool {
    if name == "meta.json" || name == ".managed.json" || name.starts_with(".tantivy-") {
        return true;
    }
    if name == embed::VECTORS_FILE || name == embed::VECTORS_TMP_FILE {
        return true;
    }
    match name.split_once('.') {
        Some((stem, _)) => stem.len() == 32 && stem.chars().all(|c| c.is_ascii_hexdigit()),
        None => false,
    }
}

impl SearchIndex {
    /// An empty index in memory.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let index = Index::create_in_ram(build_schema());
        SearchIndex::from_index(index, None, 0, None)
    }

    /// Opens the index in `dir`, creating the directory and an empty index if needed. An index
    /// written with another schema version, or unreadable, is discarded (the caller refills it
    /// from the store with [`sync::follow`]). Only the index's own files are ever removed.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let dir_err = |message: String| SearchError::Dir {
            path: dir.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| dir_err(format!("cannot create it: {e}")))?;
        let mmap = MmapDirectory::open(dir).map_err(|e| dir_err(e.to_string()))?;
        let mut reset_reason = None;
        if Index::exists(&mmap).map_err(|e| dir_err(e.to_string()))? {
            match Self::open_existing(mmap.clone()) {
                Ok((index, payload)) if payload.schema == SCHEMA_VERSION => {
                    let docs = index.reader()?.searcher().num_docs();
                    return SearchIndex::from_index(
                        index,
                        Some(dir.to_path_buf()),
                        payload.last_id,
                        None,
                    )
                    .map(|mut s| {
                        s.docs_at_open = docs;
                        s
                    });
                }
                Ok((_, payload)) => {
                    reset_reason = Some(format!(
                        "schema version {} differs from {SCHEMA_VERSION}",
                        payload.schema
                    ));
                }
                Err(why) => reset_reason = Some(why),
            }
            tracing::info!(dir = %dir.display(), reason = reset_reason.as_deref().unwrap_or(""), "rebuilding the search index");
            let entries = std::fs::read_dir(dir).map_err(|e| dir_err(e.to_string()))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_index_file(&name) && !name.ends_with(".lock") {
                    std::fs::remove_file(entry.path())
                        .map_err(|e| dir_err(format!("cannot remove {name}: {e}")))?;
                }
            }
        }
        let mmap = MmapDirectory::open(dir).map_err(|e| dir_err(e.to_string()))?;
        let index = Index::create(mmap, build_schema(), tantivy::IndexSettings::default())?;
        SearchIndex::from_index(index, Some(dir.to_path_buf()), 0, reset_reason)
    }

    fn open_existing(dir: MmapDirectory) -> Result<(Index, Payload), String> {
        let index = Index::open(dir).map_err(|e| format!("unreadable ({e})"))?;
        let metas = index
            .load_metas()
            .map_err(|e| format!("unreadable ({e})"))?;
        let payload = match metas.payload.as_deref() {
            Some(p) => serde_json::from_str::<Payload>(p)
                .map_err(|_| "no podbrief version record".to_string())?,
            // Created but never committed: empty.
            None if metas.segments.is_empty() => Payload {
                schema: SCHEMA_VERSION,
                last_id: 0,
            },
            None => return Err("no podbrief version record".into()),
        };
        if index.schema() != build_schema() {
            return Err("its fields differ from this version's".into());
        }
        Ok((index, payload))
    }

    fn from_index(
        index: Index,
        dir: Option<PathBuf>,
        last_id: i64,
        reset_reason: Option<String>,
    ) -> Result<SearchIndex, SearchError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let fields = fields_of(&index.schema()).ok_or_else(|| SearchError::Dir {
            path: dir.clone().unwrap_or_default(),
            message: "the index lacks podbrief's fields".into(),
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(if dir.is_some() {
                ReloadPolicy::OnCommitWithDelay
            } else {
                ReloadPolicy::Manual
            })
            .try_into()?;
        let semantic = embed::Semantic::new(dir.as_deref());
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            dir,
            last_id: AtomicI64::new(last_id),
            docs_at_open: 0,
            added: AtomicU64::new(0),
            reset_reason,
            topics_cache: Mutex::new(None),
            columns: Mutex::new(HashMap::new()),
            semantic,
            subjects: subject::Subjects::default(),
        })
    }

    /// The writer, created on first use (a read-only process never takes the lock).
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>, SearchError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let w = self
                .index
                .writer_with_num_threads(1, WRITER_HEAP)
                .map_err(|e| match (&e, &self.dir) {
                    (tantivy::TantivyError::LockFailure(..), Some(d)) => {
                        SearchError::Busy(d.clone())
                    }
                    _ => SearchError::Index(e),
                })?;
            *guard = Some(w);
        }
        Ok(guard)
    }

    fn commit(&self, w: &mut IndexWriter, last_id: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            last_id,
        })
        .unwrap_or_default();
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.last_id.store(last_id, Ordering::SeqCst);
        self.reader.reload()?;
        Ok(())
    }

    /// The underlying tantivy index (for benchmarks and tools that compare with raw queries).
    #[doc(hidden)]
    pub fn tantivy(&self) -> (&Index, &IndexReader) {
        (&self.index, &self.reader)
    }

    /// Number of insights indexed.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The insight ids from `from` to `to` (inclusive) the index holds.
    pub fn ids_between(
        &self,
        from: InsightId,
        to: InsightId,
    ) -> Result<HashSet<InsightId>, SearchError> {
        let mut out = HashSet::new();
        if to < from || to < 0 {
            return Ok(out);
        }
        let f = self.fields.id;
        let range = RangeQuery::new(
            Bound::Included(Term::from_field_u64(f, from.max(0) as u64)),
            Bound::Included(Term::from_field_u64(f, to as u64)),
        );
        let searcher = self.reader.searcher();
        let docs = searcher.search(&range, &DocSetCollector)?;
        let mut columns: HashMap<u32, Column<u64>> = HashMap::new();
        for addr in docs {
            let col = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("id")?,
                ),
            };
            if let Some(id) = col.first(addr.doc_id) {
                out.insert(id as i64);
            }
        }
        Ok(out)
    }

    /// The largest insight id indexed: following the store adds the insights after it (and any
    /// of the few ids below it the index lacks, see [`sync::follow`]).
    pub fn last_indexed_id(&self) -> InsightId {
        self.last_id.load(Ordering::SeqCst)
    }

    /// What the index holds and how it was opened.
    pub fn status(&self) -> IndexStatus {
        IndexStatus {
            docs: self.len(),
            docs_at_open: self.docs_at_open,
            added_since_open: self.added.load(Ordering::SeqCst),
            last_id: self.last_indexed_id(),
            reset_reason: self.reset_reason.clone(),
            dir: self.dir.clone(),
        }
    }

    fn document(&self, i: &InsightView) -> TantivyDocument {
        let f = &self.fields;
        let mut d = doc!(
            f.id => i.id as u64,
            f.episode => i.episode_id,
            f.podcast => i.podcast_id,
            f.podcast_slug => lookup::slug(&i.podcast_title),
            f.published => i.published_at.timestamp(),
            f.text => i.text.as_str(),
            // The text first: its word positions in `all` are its own (proximity reads them).
            f.all => i.text.as_str(),
        );
        if !i.quote.is_empty() && i.quote != i.text {
            d.add_text(f.all, &i.quote);
        }
        d.add_text(f.all, i.topics.join(" , "));
        d.add_text(f.all, format!("{} {}", i.podcast_title, i.episode_title));
        if let Some(speaker) = i.speaker.as_deref().filter(|s| !s.is_empty()) {
            d.add_text(f.all, speaker);
        }
        for v in pack_signature(&signature(&i.text)) {
            d.add_u64(f.signature, v);
        }
        for t in &i.topics {
            let t = crate::core::text::normalize_topic(t);
            if !t.is_empty() {
                d.add_text(f.topic, &t);
            }
        }
        d
    }

    /// Adds (or replaces) insights and makes them searchable.
    pub fn add(&self, insights: &[InsightView]) -> Result<(), SearchError> {
        if insights.is_empty() {
            return Ok(());
        }
        let f = self.fields;
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        let mut last = self.last_indexed_id();
        for i in insights {
            writer.delete_term(Term::from_field_u64(f.id, i.id as u64));
            writer.add_document(self.document(i))?;
            last = last.max(i.id);
        }
        self.commit(writer, last)?;
        self.added
            .fetch_add(insights.len() as u64, Ordering::SeqCst);
        self.semantic.queue(insights);
        Ok(())
    }

    fn delete(&self, term: Term) -> Result<(), SearchError> {
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        writer.delete_term(term);
        let last = self.last_indexed_id();
        self.commit(writer, last)
    }

    /// Sets an episode's subject from its stored form (see [`subject`]); an empty one forgets it.
    pub fn set_episode_subject(&self, episode: EpisodeId, stored: &str) {
        self.subjects.set(episode, stored);
    }

    /// Whether the index knows `episode`'s subject.
    pub fn knows_subject(&self, episode: EpisodeId) -> bool {
        self.subjects.has(episode)
    }

    /// Episodes whose subject the index knows.
    pub fn subjects_known(&self) -> usize {
        self.subjects.len()
    }

    /// Removes every insight of an episode (a deleted episode leaves the index).
    pub fn remove_episode(&self, id: EpisodeId) -> Result<(), SearchError> {
        self.delete(Term::from_field_i64(self.fields.episode, id))
    }

    /// Removes every insight of a podcast.
    pub fn remove_podcast(&self, id: PodcastId) -> Result<(), SearchError> {
        self.delete(Term::from_field_i64(self.fields.podcast, id))
    }

    /// Empties the index (before a rebuild); the last indexed id goes back to 0.
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        writer.delete_all_documents()?;
        self.commit(writer, 0)?;
        self.semantic.clear();
        Ok(())
    }

    /// The analysed terms of user text with their positions (stemmed, no stop words).
    fn tokens(&self, text: &str) -> Vec<(String, u32)> {
        let mut analyzer = self
            .index
            .tokenizers()
            .get(ANALYZER)
            .unwrap_or_else(analyzer);
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(tok) = stream.next() {
            out.push((tok.text.clone(), tok.position as u32));
        }
        out
    }

    /// The analysed terms of user text, deduplicated, in order, at most 32.
    fn terms(&self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (t, _) in self.tokens(text) {
            if !out.contains(&t) && out.len() < 32 {
                out.push(t);
            }
        }
        out
    }

    /// Podcast slugs in the index equal to, or starting with, one of `wanted`.
    fn matching_slugs(&self, searcher: &Searcher, wanted: &[String]) -> Vec<String> {
        let mut found = HashSet::new();
        for seg in searcher.segment_readers() {
            let Ok(inv) = seg.inverted_index(self.fields.podcast_slug) else {
                continue;
            };
            let Ok(mut stream) = inv.terms().stream() else {
                continue;
            };
            while stream.advance() {
                let key = String::from_utf8_lossy(stream.key()).into_owned();
                if wanted
                    .iter()
                    .any(|w| key == *w || key.starts_with(&format!("{w}-")))
                {
                    found.insert(key);
                }
            }
        }
        let mut v: Vec<String> = found.into_iter().collect();
        v.sort();
        v
    }

    /// Stage one: the top `n` by BM25 (block-max WAND skips what cannot reach them, so common
    /// words stay fast), each with its id, episode, date and near-duplicate signature read from
    /// fast fields.
    fn stage_one(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        n: usize,
    ) -> Result<Vec<Candidate>, SearchError> {
        let top = searcher.search(query, &TopDocs::with_limit(n.max(1)).order_by_score())?;
        let mut columns: HashMap<u32, Arc<Columns>> = HashMap::new();
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let cols = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.columns(searcher, addr.segment_ord)?)
                }
            };
            let doc = addr.doc_id;
            let (Some(id), Some(episode), Some(published)) = (
                cols.id.first(doc),
                cols.episode.first(doc),
                cols.published.first(doc),
            ) else {
                continue;
            };
            // One bulk read of the document's values (a bit-unpacking run, not one call each).
            let rows = cols.signature.index.value_row_ids(doc);
            let mut packed = [0u64; SIGNATURE_WORDS.div_ceil(HASHES_PER_VALUE)];
            let packed = &mut packed[..rows.len().min(SIGNATURE_WORDS.div_ceil(HASHES_PER_VALUE))];
            cols.signature
                .values
                .get_range(u64::from(rows.start), packed);
            let signature = unpack_signature(packed);
            out.push(Candidate {
                hit: Hit {
                    id: id as i64,
                    score,
                },
                addr,
                episode,
                published,
                signature,
            });
        }
        Ok(out)
    }

    /// The fast-field columns of one segment of `searcher`, opened on its first lookup and kept
    /// while the segment exists (opening them costs more than reading a few values).
    fn columns(&self, searcher: &Searcher, ord: u32) -> Result<Arc<Columns>, SearchError> {
        let seg = searcher.segment_reader(ord);
        let id = seg.segment_id();
        let mut cache = self.columns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&id) {
            return Ok(Arc::clone(c));
        }
        let ff = seg.fast_fields();
        let cols = Arc::new(Columns {
            id: ff.u64("id")?,
            episode: ff.i64("episode")?,
            published: ff.i64("published")?,
            signature: ff.u64("signature")?,
        });
        // A new segment: forget those merged away since (the cache holds live segments only).
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        cache.retain(|k, _| live.contains(k));
        cache.insert(id, Arc::clone(&cols));
        Ok(cols)
    }

    /// Insights related to user text, best first. `in:` and `since:` in the text filter the
    /// results; everything else is words. Never fails on odd input.
    pub fn search(
        &self,
        text: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        self.lookup(&LookupQuery::parse(text, now), limit, now)
    }

    /// Insights for a parsed lookup, best first: episodes by their evidence, each with its
    /// best insights (see [`lookup`]).
    pub fn lookup(
        &self,
        q: &LookupQuery,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let words = self.plan(&searcher, &q.words, true);
        let query = self.words_query(&words);
        if query.clauses().is_empty() {
            return Ok(Vec::new());
        }
        let Some(query) = self.filtered(&searcher, q, query) else {
            return Ok(Vec::new());
        };
        let mut cands = self.stage_one(&searcher, &query, lookup::episode_depth(limit))?;
        let mut words = words;
        if self.feedback(&searcher, &cands, &mut words)? {
            let query = self.words_query(&words);
            if let Some(query) = self.filtered(&searcher, q, query) {
                cands = self.stage_one(&searcher, &query, lookup::episode_depth(limit))?;
            }
        }
        self.by_episode(&searcher, cands, &words, limit, now)
    }

    /// `words` restricted by the lookup's `in:` and `since:` filters; `None` when `in:` names no
    /// podcast of the index.
    fn filtered(
        &self,
        searcher: &Searcher,
        q: &LookupQuery,
        words: BooleanQuery,
    ) -> Option<Box<dyn Query>> {
        if !q.has_filters() {
            return Some(Box::new(words));
        }
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(words))];
        if !q.podcasts.is_empty() {
            let slugs = self.matching_slugs(searcher, &q.podcasts);
            if slugs.is_empty() {
                return None;
            }
            let any: Vec<(Occur, Box<dyn Query>)> = slugs
                .iter()
                .map(|s| {
                    let t = TermQuery::new(
                        Term::from_field_text(f.podcast_slug, s),
                        IndexRecordOption::Basic,
                    );
                    (Occur::Should, Box::new(t) as Box<dyn Query>)
                })
                .collect();
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(any)), 0.0)),
            ));
        }
        if let Some(since) = q.since {
            let range = RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.published, since.timestamp())),
                Bound::Unbounded,
            );
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(range), 0.0)),
            ));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// The most common topics, most frequent first (read from the index, so they survive a
    /// restart).
    pub fn top_topics(&self, n: usize) -> Vec<String> {
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        let mut cache = self.topics_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().map(|c| c.0) != Some(generation) {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for seg in searcher.segment_readers() {
                let Ok(inv) = seg.inverted_index(self.fields.topic) else {
                    continue;
                };
                let Ok(mut stream) = inv.terms().stream() else {
                    continue;
                };
                while stream.advance() {
                    let key = String::from_utf8_lossy(stream.key()).into_owned();
                    *counts.entry(key).or_default() += u64::from(stream.value().doc_freq);
                }
            }
            let mut v: Vec<(String, u64)> = counts.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(100);
            *cache = Some((generation, v));
        }
        cache
            .as_ref()
            .map(|c| c.1.iter().take(n).map(|(t, _)| t.clone()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
