//! What a lookup asks for, and how it is answered.
//!
//! The text is plain words plus two optional filters read from it, `in:<podcast>` (a podcast
//! title slug, e.g. `in:hard-fork`) and `since:<duration or date>` (`since:7d`, `since:12h`,
//! `since:2026-11-01`). Nothing else in the text is syntax: quotes, brackets, `AND`, `title:x`,
//! `*` and `-` stay plain characters and reach the analyser as words. A filter whose value does
//! not parse (`since:soon`) is kept as words too, so a lookup never fails on its text.
//!
//! Each typed word stands for a few index terms ([`Word`]): its own stem (weight 1), its
//! spelling neighbours when the index does not know it (a typo: one edit from 6 letters, two
//! from 9, same first letter), and its thesaurus synonyms that the index holds
//! ([`super::synonyms`], weights below 1). Stage one is their disjunction. Stage two reads, for
//! each candidate, which words it covers (and how well: a synonym covers at its weight) and
//! where, for the proximity boost. Then evidence is gathered per episode: an episode's score
//! adds its matching insights' scores with falling weights, so an episode that discusses the
//! subject at length outranks a passing mention, and an episode that covers less than
//! [`MIN_COVERAGE`] of the query's words (weighted by rarity) is not shown at all: a lookup on
//! something nobody discussed finds nothing rather than an insight that shares a common word.
//! Episodes are listed best first, each with its best insight, then their second best, and so
//! on.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tantivy::postings::Postings;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{DocSet, Searcher, Term};

use super::{Candidate, Hit, PROXIMITY, SearchError, SearchIndex, first_of_each};

/// A parsed lookup: the words to search for and the filters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LookupQuery {
    /// The words, exactly as typed minus the recognised filters.
    pub words: String,
    /// Podcast slugs (`in:`): results come from a podcast whose title slug is one of these, or
    /// starts with one of them.
    pub podcasts: Vec<String>,
    /// `since:`: only insights of episodes published at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

impl LookupQuery {
    /// Reads `in:` and `since:` filters out of `text`; `now` anchors relative durations.
    pub fn parse(text: &str, now: DateTime<Utc>) -> LookupQuery {
        let mut words: Vec<&str> = Vec::new();
        let mut q = LookupQuery::default();
        for token in text.split_whitespace() {
            let lower = token.to_lowercase();
            if let Some(v) = lower.strip_prefix("in:") {
                let s = slug(v);
                if !s.is_empty() {
                    q.podcasts.push(s);
                    continue;
                }
            } else if let Some(v) = lower.strip_prefix("since:")
                && let Some(t) = parse_since(v, now)
            {
                q.since = Some(q.since.map_or(t, |old: DateTime<Utc>| old.max(t)));
                continue;
            }
            words.push(token);
        }
        q.words = words.join(" ");
        q
    }

    /// Whether the lookup has a filter.
    pub fn has_filters(&self) -> bool {
        !self.podcasts.is_empty() || self.since.is_some()
    }
}

/// A podcast title as a slug: lowercase letters and digits, words joined by `-`
/// ("Hard Fork" → `hard-fork`, "The AI Show!" → `the-ai-show`).
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else if c != '\'' && c != '’' {
            dash = true;
        }
    }
    out
}

/// `7d`, `12h`, `30m`, `2w` (ago) or a date `YYYY-MM-DD` (midnight UTC).
fn parse_since(v: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    let d = match v.strip_suffix('w') {
        Some(n) => n
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(7 * 86_400))
            .map(std::time::Duration::from_secs)?,
        None => crate::config::parse_duration(v)?,
    };
    if d.is_zero() {
        return None;
    }
    let d = chrono::Duration::from_std(d).ok()?;
    now.checked_sub_signed(d)
}

/// The weight of a spelling neighbour of a word the index does not know.
const NEIGHBOUR_WEIGHT: f32 = 0.8;
/// The shortest unknown word (as typed) looked up by its spelling neighbours (shorter ones have too many:
/// "chess" is one edit from "chest" and "cheese").
const MIN_FUZZY: usize = 6;
/// Spelling neighbours kept per unknown word (the closest, then the most common).
const NEIGHBOURS: usize = 8;
/// Synonyms kept per typed word (the heaviest, then the most common).
const SYNONYMS: usize = 6;
/// A typed word found in at most this many insights (or a thousandth of them) is expanded to
/// its synonyms; a commoner one finds enough by itself.
const RARE: u64 = 3;
/// Words that frame a request rather than name its subject, beyond the common words of
/// [`crate::core::text::STOP_WORDS`] ("is there any information available on …", "papers
/// that discussed …").
const FRAME: &[&str] = &[
    "whether",
    "known",
    "information",
    "available",
    "possible",
    "exist",
    "exists",
    "find",
    "found",
    "obtain",
    "obtained",
    "given",
    "discussed",
    "studied",
    "paper",
    "papers",
    "reported",
    "report",
];

/// Whether a typed word (lowercase) frames the request rather than names its subject.
fn is_frame_word(w: &str) -> bool {
    crate::core::text::is_stop_word(w) || FRAME.contains(&w)
}
/// Typed words read at most.
const MAX_WORDS: usize = 32;
/// The least share of the query's words (weighted by rarity) an episode must cover to be shown.
pub const MIN_COVERAGE: f32 = 0.45;
/// Each further insight of an episode adds its score times this power of its rank.
const EPISODE_DECAY: f32 = 0.6;
/// Stage one keeps at least this many candidates, so episodes gather their evidence.
const EPISODE_DEPTH: usize = 40;

/// A typed word of a lookup and the index terms that stand for it.
#[derive(Debug, Clone)]
pub(super) struct Word {
    /// Its stem's inverse document frequency (BM25's; a word the index lacks has the highest).
    idf: f32,
    /// How often it was typed (a repeated word weighs more, as in BM25's query term frequency).
    count: u32,
    /// Index terms standing for it: (term, weight in the ranking, how much of the word it
    /// covers for the floor). Its own stem weighs and covers 1; a Moby synonym covers nothing
    /// (it ranks, but never alone makes an episode worth showing).
    alts: Vec<(String, f32, f32)>,
    /// Whether its terms are in few insights (at most [`RARE`] or a thousandth), so requiring
    /// it makes stage one walk short postings.
    short: bool,
}

impl Word {
    /// Its share of the query's weight in the coverage floor: its rarity times how often it
    /// was typed.
    fn mass(&self) -> f32 {
        self.idf * self.count as f32
    }
}

/// A question this long (typed words) is widened with terms of its first results.
const FEEDBACK_WORDS: usize = 5;
/// Results whose words widen a long question.
const FEEDBACK_DOCS: usize = 5;
/// Terms added to a long question.
const FEEDBACK_TERMS: usize = 20;
/// The weight of the heaviest term added (the others in proportion).
const FEEDBACK_WEIGHT: f32 = 0.5;

/// What stage two learned of a candidate.
struct Evidence {
    cand: Candidate,
    /// Per typed word: the weight of the best of its terms the candidate holds (0 if none).
    covered: Vec<f32>,
}

/// BM25's inverse document frequency.
fn idf(df: u64, docs: u64) -> f32 {
    let (df, n) = (df as f32, docs.max(1) as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// The restricted Damerau-Levenshtein distance of `a` and `b`, or `None` if over `max`.
fn edit_distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let mut best = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
            best = best.min(d);
        }
        if best > max {
            return None;
        }
    }
    Some(rows[a.len()][b.len()]).filter(|d| *d <= max)
}

fn surface_words() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build()
}

impl SearchIndex {
    /// The typed words of `text` with the terms standing for each (synonyms only if `expand`).
    pub(super) fn plan(&self, searcher: &Searcher, text: &str, expand: bool) -> Vec<Word> {
        self.plan_words(searcher, text, expand, true)
    }

    /// [`Self::plan`], leaving out frame words when `drop_frames` (unless nothing else is left).
    fn plan_words(
        &self,
        searcher: &Searcher,
        text: &str,
        expand: bool,
        drop_frames: bool,
    ) -> Vec<Word> {
        let is_frame_word = |w: &str| drop_frames && is_frame_word(w);
        let mut framing: Vec<String> = Vec::new();
        let docs = searcher.num_docs();
        let df = |t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(self.fields.all, t))
                .unwrap_or(0)
        };
        let rare = RARE.max(docs / 1000);
        let mut words: Vec<Word> = Vec::new();
        let mut surfaces = surface_words();
        let mut stream = surfaces.token_stream(text);
        while let Some(tok) = stream.next() {
            if is_frame_word(&tok.text) {
                framing.push(tok.text.clone());
                continue;
            }
            let Some((stem, _)) = self.tokens(&tok.text).into_iter().next() else {
                continue;
            };
            if let Some(w) = words
                .iter_mut()
                .find(|w| w.alts.first().is_some_and(|a| a.0 == stem))
            {
                w.count += 1;
                continue;
            }
            if words.len() >= MAX_WORDS {
                break;
            }
            let n = df(&stem);
            if n == 0 && stem.chars().count() < 2 {
                // A stray letter the index lacks (markup, initials) names no subject.
                continue;
            }
            let mut alts = vec![(stem.clone(), 1.0, 1.0)];
            if n == 0 {
                alts.clear();
                let len = tok.text.chars().count();
                if len >= MIN_FUZZY {
                    let max = if len >= 9 { 2 } else { 1 };
                    for t in self.neighbours(searcher, &stem, &tok.text, max) {
                        alts.push((t, NEIGHBOUR_WEIGHT, NEIGHBOUR_WEIGHT));
                    }
                }
            }
            if expand && n <= rare {
                self.add_synonyms(&tok.text, &stem, &mut alts, &df);
            }
            let postings: u64 = alts
                .iter()
                .filter(|a| a.1 > 0.0)
                .map(|a| if a.0 == stem { n } else { df(&a.0) })
                .sum();
            // The word's own stem first, even when absent (it names the word).
            if n == 0 {
                alts.insert(0, (stem, 0.0, 0.0));
            }
            words.push(Word {
                idf: idf(n, docs),
                count: 1,
                alts,
                short: postings <= rare,
            });
        }
        if words.is_empty() && !framing.is_empty() {
            // Only frame words were typed ("what about it"): they are the query after all.
            return self.plan_words(searcher, &framing.join(" "), expand, false);
        }
        words
    }

    /// Adds the thesaurus synonyms of `surface` the index holds (at most [`SYNONYMS`]).
    fn add_synonyms(
        &self,
        surface: &str,
        stem: &str,
        alts: &mut Vec<(String, f32, f32)>,
        df: &dyn Fn(&str) -> u64,
    ) {
        let thesaurus = super::synonyms::thesaurus();
        let mut found: Vec<(String, f32, u64)> = Vec::new();
        for form in super::synonyms::head_forms(surface) {
            for (syn, weight) in thesaurus.synonyms(&form) {
                let Some((s, _)) = self.tokens(syn).into_iter().next() else {
                    continue;
                };
                if s == stem || alts.iter().any(|a| a.0 == s) || found.iter().any(|f| f.0 == s) {
                    continue;
                }
                let n = df(&s);
                if n > 0 {
                    found.push((s, weight, n));
                }
            }
        }
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)));
        alts.extend(found.into_iter().take(SYNONYMS).map(|(s, w, _)| {
            let credit = if w < super::synonyms::WORDNET_WEIGHT {
                0.0
            } else {
                w
            };
            (s, w, credit)
        }));
    }

    /// Index terms within `max` edits of `stem` that start with its letter, closest then most
    /// common first, at most [`NEIGHBOURS`]. A term may also be the stem of a word that `typed`
    /// misspells past the stem's end ("orchestraton" → `orchestr`): it is then within `max - 1`
    /// edits of as many first letters of `typed`, and at least five letters long.
    fn neighbours(&self, searcher: &Searcher, stem: &str, typed: &str, max: usize) -> Vec<String> {
        let want: Vec<char> = stem.chars().collect();
        let typed: Vec<char> = typed.chars().collect();
        let Some(first) = want.first() else {
            return Vec::new();
        };
        let prefix = first.to_string();
        let mut found: HashMap<String, (usize, u64)> = HashMap::new();
        for seg in searcher.segment_readers() {
            let Ok(inv) = seg.inverted_index(self.fields.all) else {
                continue;
            };
            let Ok(mut stream) = inv.terms().range().ge(prefix.as_bytes()).into_stream() else {
                continue;
            };
            while stream.advance() {
                let Ok(key) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if !key.starts_with(&prefix) {
                    break;
                }
                let chars: Vec<char> = key.chars().collect();
                let head = &typed[..chars.len().min(typed.len())];
                let by_head = (chars.len() >= 5 && chars.len() < typed.len())
                    .then(|| edit_distance(head, &chars, max - 1).map(|d| d + 1))
                    .flatten();
                if let Some(d) = edit_distance(&want, &chars, max).or(by_head) {
                    let e = found.entry(key.to_string()).or_insert((d, 0));
                    e.1 += u64::from(stream.value().doc_freq);
                }
            }
        }
        let mut v: Vec<(String, (usize, u64))> = found.into_iter().collect();
        v.sort_by(|a, b| {
            a.1.0
                .cmp(&b.1.0)
                .then(b.1.1.cmp(&a.1.1))
                .then(a.0.cmp(&b.0))
        });
        v.into_iter().take(NEIGHBOURS).map(|(t, _)| t).collect()
    }

    /// Pseudo-relevance feedback for long questions (at least [`FEEDBACK_WORDS`] words): the
    /// terms that weigh most in the first [`FEEDBACK_DOCS`] results (frequency in each,
    /// by its length, times rarity) join the query, at most [`FEEDBACK_TERMS`], weighing at most
    /// [`FEEDBACK_WEIGHT`] and nothing in the coverage floor. A question names its subject
    /// with many words of which only some are the collection's; the best matches' words say
    /// which. Returns whether terms were added.
    pub(super) fn feedback(
        &self,
        searcher: &Searcher,
        cands: &[Candidate],
        words: &mut Vec<Word>,
    ) -> Result<bool, SearchError> {
        if words.len() < FEEDBACK_WORDS || cands.is_empty() {
            return Ok(false);
        }
        let docs = searcher.num_docs();
        let mut weight: HashMap<String, f32> = HashMap::new();
        for c in cands.iter().take(FEEDBACK_DOCS) {
            let doc: tantivy::TantivyDocument = searcher.doc(c.addr)?;
            let Some(text) = doc
                .get_first(self.fields.text)
                .and_then(|v| tantivy::schema::Value::as_str(&v))
            else {
                continue;
            };
            let toks = self.tokens(text);
            let len = toks.len().max(1) as f32;
            for (t, _) in toks {
                *weight.entry(t).or_default() += 1.0 / len;
            }
        }
        let known: Vec<&str> = words
            .iter()
            .flat_map(|w| w.alts.iter().map(|a| a.0.as_str()))
            .collect();
        let mut terms: Vec<(String, f32)> = weight
            .into_iter()
            .filter(|(t, _)| !known.contains(&t.as_str()) && t.chars().count() > 2)
            .map(|(t, w)| {
                let n = searcher
                    .doc_freq(&Term::from_field_text(self.fields.all, &t))
                    .unwrap_or(0);
                let idf = idf(n, docs);
                (t, w * idf)
            })
            .collect();
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        terms.truncate(FEEDBACK_TERMS);
        let Some(top) = terms.first().map(|t| t.1).filter(|w| *w > 0.0) else {
            return Ok(false);
        };
        for (t, w) in terms {
            words.push(Word {
                idf: 0.0,
                count: 1,
                alts: vec![(t, FEEDBACK_WEIGHT * w / top, 0.0)],
                short: false,
            });
        }
        Ok(true)
    }

    /// Stage one's query: every term standing for a word, weighted. A word the coverage floor
    /// cannot do without ([`essential`]) whose terms are in few insights (`short`) is required:
    /// an insight lacking all its terms can bring its episode no coverage it needs, and
    /// requiring it keeps a lookup led by a rare word from ranking the whole posting list of a
    /// common one. A commoner essential word is not required: tantivy then scores every insight
    /// holding it, where the plain disjunction prunes (block-max WAND).
    pub(super) fn words_query(&self, words: &[Word]) -> BooleanQuery {
        let needed = essential(words);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut required: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (w, must) in words.iter().zip(needed) {
            let mut terms: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (t, weight, _) in &w.alts {
                if *weight <= 0.0 {
                    continue;
                }
                let term = Term::from_field_text(self.fields.all, t);
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                let boost = weight * w.count as f32;
                if (boost - 1.0).abs() < f32::EPSILON {
                    terms.push((Occur::Should, q));
                } else {
                    terms.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
                }
            }
            if must && w.short && words.len() > 1 {
                required.push((Occur::Must, Box::new(BooleanQuery::new(terms))));
            } else {
                clauses.extend(terms);
            }
        }
        if required.is_empty() {
            return BooleanQuery::new(clauses);
        }
        if !clauses.is_empty() {
            required.push((Occur::Should, Box::new(BooleanQuery::new(clauses))));
        }
        BooleanQuery::new(required)
    }

    /// For each candidate: how well it covers each word, and the share of consecutive word
    /// pairs found within [`PROXIMITY`] words of each other (from the postings' positions).
    fn evidence(
        &self,
        searcher: &Searcher,
        cands: &[Candidate],
        words: &[Word],
    ) -> Result<Vec<(Vec<f32>, f64)>, SearchError> {
        let mut covered = vec![vec![0f32; words.len()]; cands.len()];
        let mut searched = words.iter().enumerate().flat_map(|(w, word)| {
            word.alts
                .iter()
                .filter(|a| a.1 > 0.0)
                .map(move |a| (w, a.2))
        });
        if let (Some((w, credit)), None) = (searched.next(), searched.next()) {
            // One term searched: every candidate holds it, and there is no pair to be close.
            for c in &mut covered {
                c[w] = credit;
            }
            return Ok(covered.into_iter().map(|c| (c, 0.0)).collect());
        }
        // Positions matter between two words only: one word reads none.
        let proximity = words.len() > 1;
        let record = if proximity {
            IndexRecordOption::WithFreqsAndPositions
        } else {
            IndexRecordOption::Basic
        };
        let slots = if proximity { words.len() } else { 0 };
        let mut at: Vec<Vec<Vec<u32>>> = vec![vec![Vec::new(); slots]; cands.len()];
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by_key(|&i| (cands[i].addr.segment_ord, cands[i].addr.doc_id));
        for group in order.chunk_by(|a, b| cands[*a].addr.segment_ord == cands[*b].addr.segment_ord)
        {
            let seg = searcher.segment_reader(cands[group[0]].addr.segment_ord);
            let inv = seg.inverted_index(self.fields.all)?;
            for (w, word) in words.iter().enumerate() {
                for (t, _, credit) in word.alts.iter().filter(|a| a.1 > 0.0) {
                    let term = Term::from_field_text(self.fields.all, t);
                    let Some(mut postings) = inv
                        .read_postings(&term, record)
                        .map_err(tantivy::TantivyError::from)?
                    else {
                        continue;
                    };
                    for &i in group {
                        let doc = cands[i].addr.doc_id;
                        if postings.doc() < doc {
                            postings.seek(doc);
                        }
                        if postings.doc() == doc {
                            covered[i][w] = covered[i][w].max(*credit);
                            if proximity {
                                postings.append_positions_with_offset(0, &mut at[i][w]);
                            }
                        }
                    }
                }
            }
        }
        let pairs = words.len().saturating_sub(1).max(1);
        Ok(covered
            .into_iter()
            .zip(at)
            .map(|(c, at)| {
                let close = at
                    .windows(2)
                    .filter(|p| {
                        p[0].iter()
                            .any(|x| p[1].iter().any(|y| x.abs_diff(*y) <= PROXIMITY))
                    })
                    .count();
                (c, close as f64 / pairs as f64)
            })
            .collect())
    }

    /// Stage two of a lookup: candidates re-ranked (proximity, recency), near-duplicates
    /// collapsed, then gathered by episode (see the module's documentation).
    pub(super) fn by_episode(
        &self,
        searcher: &Searcher,
        cands: Vec<Candidate>,
        words: &[Word],
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        let found = self.evidence(searcher, &cands, words)?;
        let mut ranked: Vec<Evidence> = Vec::with_capacity(cands.len());
        for (mut cand, (covered, near)) in cands.into_iter().zip(found) {
            let age_days = ((now.timestamp() - cand.published).max(0) as f64) / 86_400.0;
            let fresh = 1.0 + 0.2 * 0.5f64.powf(age_days / 30.0);
            cand.hit.score *= (fresh * (1.0 + 0.5 * near)) as f32;
            ranked.push(Evidence { cand, covered });
        }
        ranked.sort_by(|a, b| {
            b.cand
                .hit
                .score
                .total_cmp(&a.cand.hit.score)
                .then(b.cand.published.cmp(&a.cand.published))
                .then(b.cand.hit.id.cmp(&a.cand.hit.id))
        });
        let keep = first_of_each(ranked.iter().map(|e| e.cand.signature.as_slice()));
        let kept: Vec<Evidence> = ranked
            .into_iter()
            .zip(keep)
            .filter_map(|(e, keep)| keep.then_some(e))
            .collect();
        Ok(episodes_first(kept, words, limit))
    }
}

/// One episode's evidence: its insights best first, its score, and how much of the query it
/// covers.
struct EpisodeEvidence {
    hits: Vec<Hit>,
    score: f32,
    covered: Vec<f32>,
}

/// Groups ranked candidates by episode, drops the episodes covering less than
/// [`MIN_COVERAGE`] of the query, ranks the rest by their summed evidence and lists each
/// episode's best insight, then each one's second best, and so on, up to `limit`.
fn episodes_first(ranked: Vec<Evidence>, words: &[Word], limit: usize) -> Vec<Hit> {
    let mut episodes: Vec<EpisodeEvidence> = Vec::new();
    let mut slot: HashMap<i64, usize> = HashMap::new();
    for e in ranked {
        let i = *slot.entry(e.cand.episode).or_insert_with(|| {
            episodes.push(EpisodeEvidence {
                hits: Vec::new(),
                score: 0.0,
                covered: vec![0.0; words.len()],
            });
            episodes.len() - 1
        });
        let ep = &mut episodes[i];
        ep.score += e.cand.hit.score * EPISODE_DECAY.powi(ep.hits.len() as i32);
        ep.hits.push(e.cand.hit);
        for (c, x) in ep.covered.iter_mut().zip(&e.covered) {
            *c = c.max(*x);
        }
    }
    let mass: f32 = words.iter().map(Word::mass).sum();
    let floor = coverage_floor(words.len());
    episodes.retain(|ep| {
        let got: f32 = words
            .iter()
            .zip(&ep.covered)
            .map(|(w, c)| w.mass() * c)
            .sum();
        mass <= 0.0 || got >= floor * mass
    });
    episodes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::with_capacity(limit);
    for round in 0.. {
        let before = out.len();
        for ep in &episodes {
            if out.len() >= limit {
                return out;
            }
            if let Some(h) = ep.hits.get(round) {
                out.push(*h);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// For each word, whether no episode can pass the coverage floor without it (the other
/// words together weigh less than the floor's share of the query).
fn essential(words: &[Word]) -> Vec<bool> {
    let mass: f32 = words.iter().map(Word::mass).sum();
    let floor = coverage_floor(words.len()) * mass;
    words
        .iter()
        .map(|w| mass > 0.0 && mass - w.mass() < floor)
        .collect()
}

/// The least share of the query an episode must cover: [`MIN_COVERAGE`] for up to three
/// words, less for longer queries (a question's words are not all its subject).
fn coverage_floor(words: usize) -> f32 {
    if words <= 3 {
        MIN_COVERAGE
    } else {
        MIN_COVERAGE * 3.0 / words as f32
    }
}

/// How many candidates a lookup's stage one keeps for `limit` hits: those of
/// [`super::lookup_depth`], and at least [`EPISODE_DEPTH`].
pub(super) fn episode_depth(limit: usize) -> usize {
    super::lookup_depth(limit).max(EPISODE_DEPTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-27T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn filters_are_read_and_the_rest_stays_words() {
        let q = LookupQuery::parse("chips in:Hard-Fork since:7d export", now());
        assert_eq!(q.words, "chips export");
        assert_eq!(q.podcasts, ["hard-fork"]);
        assert_eq!(q.since, Some("2026-11-20T00:00:00Z".parse().unwrap()));
        let q = LookupQuery::parse("since:2026-11-01 tides", now());
        assert_eq!(q.since, Some("2026-11-01T00:00:00Z".parse().unwrap()));
        assert_eq!(q.words, "tides");
    }

    #[test]
    fn anything_else_is_plain_text() {
        for text in [
            "title:x AND (",
            "since:soon",
            "in:",
            "since:0d",
            "c++ \"foo",
            "🌊",
        ] {
            let q = LookupQuery::parse(text, now());
            assert!(!q.has_filters(), "{text}: {q:?}");
            assert_eq!(q.words, text);
        }
        assert_eq!(
            LookupQuery::parse("since:99999999999999d x", now()).words,
            "since:99999999999999d x"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Hard Fork"), "hard-fork");
        assert_eq!(slug("  The AI Show! "), "the-ai-show");
        assert_eq!(slug("Tom's Tides"), "toms-tides");
        assert_eq!(slug("🌊"), "");
    }
}
