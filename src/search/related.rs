//! "More like this" and the related list: insights on the same subject as one insight.
//!
//! An insight's subject is a short weighted list of terms (its **profile**): the distinctive
//! words of its text, its topics, its episode's and chapter's titles, and the words its episode's
//! other insights share (the episode's top terms). Each term weighs by where it comes from times
//! its rarity in the index (BM25's IDF); generic words of speech and number words ("percent",
//! "thing", "people", "year", "lot", "really", "twenty"…) and numbers weigh nothing. Stage one
//! is a term disjunction over `all` on the profile's terms that few insights hold (at most
//! [`PROFILE_TERMS`]). Each candidate's **relatedness** is the share of the profile's weight
//! it carries (read from the postings, no stored document), times how far the two episodes are
//! about the same thing: the cosine of their subjects (all the episode's words, see
//! [`super::subject`]), so shared words between episodes on different subjects count for
//! nothing (where a subject is unknown or thin, words alone may relate, at a higher bar). It is
//! raised by semantic similarity when both have a vector. Below [`FLOOR`] a candidate is not
//! shown, so an insight with nothing on its subject gets fewer items, or none. The rest are taken best first, preferring other
//! episodes and shows (each further item of an episode, or of the insight's own show, counts
//! for less) and dropping near-duplicates (of the insight and of each other).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Searcher, TantivyDocument, Term};

use super::{
    Candidate, Hit, OVERFETCH, OVERFETCH_MIN, SearchError, SearchIndex, analyzer, near_duplicate,
    signature,
};
use crate::core::model::InsightView;

/// Relatedness (the share of an insight's subject another carries) below which an item is not
/// shown. Calibrated on the judged related set (`podbrief eval related --show` prints the sweep).
pub const FLOOR: f32 = 0.08;
/// Terms of a profile at most (the heaviest): enough for a subject, few enough for stage one to
/// stay fast on a large index.
pub const PROFILE_TERMS: usize = 16;
/// A candidate must share at least this many profile terms (one shared name is a coincidence).
const MIN_SHARED: u32 = 2;
/// Where a profile term comes from: the insight's text.
const TEXT_WEIGHT: f32 = 1.0;
/// …its topics.
const TOPIC_WEIGHT: f32 = 1.5;
/// …its episode's or chapter's title.
const TITLE_WEIGHT: f32 = 1.0;
/// …the words its episode's other insights share.
const EPISODE_WEIGHT: f32 = 0.5;
/// Episode terms taken at most.
const EPISODE_TERMS: usize = 12;
/// How much a candidate's episode agreement decides its relatedness: an episode with nothing of
/// the insight's episode's subject leaves its insights this much less related.
const EPISODE_SAY: f32 = 0.5;
/// Stage one seeks a profile's terms found in at most one insight in this many, or in at most
/// [`STAGE_ONE_MIN_DF`] (the commoner ones still count in relatedness, read from the postings of
/// the candidates only). They are what a subject is told by, and their postings are the long
/// ones: on the judged set the share of related items on subject rises at every floor, and at a
/// million insights "more like this" takes less than half the time.
const STAGE_ONE_SHARE: u64 = 50;
/// See [`STAGE_ONE_SHARE`].
const STAGE_ONE_MIN_DF: u64 = 20;
/// Stage one keeps at least this many candidates (the floor drops many).
const MIN_POOL: usize = 32;
/// Insights of the episode read for its top terms at most.
const EPISODE_SAMPLE: usize = 40;
/// Each further item from an episode already in the list counts this much less (compounding).
const SAME_EPISODE_DECAY: f32 = 0.8;
/// An item of the insight's own show counts this much (other shows first, for variety).
const SAME_SHOW: f32 = 0.9;
/// Cosine similarity of two episodes' subjects (see [`super::subject`]) at or below which an
/// insight of one is not related to an insight of the other…
const SUBJECT_ZERO: f32 = 0.11;
/// …and from which the subjects agree fully. Calibrated with [`FLOOR`] on the judged related
/// set (`podbrief eval related` with other values printed the trade-off: a lower zero shows more
/// items off the subject, a higher one answers fewer insights).
const SUBJECT_FULL: f32 = 0.18;

/// Words alone (for a candidate whose episode's subject, or the insight's, is unknown or thin:
/// imported insights, short episodes) must carry this many times [`FLOOR`] (the floor they were
/// calibrated at before episodes' subjects: 0.2).
const WORDS_ONLY: f32 = 2.5;

/// How much of a candidate's relatedness its episode keeps, by the cosine similarity of the two
/// episodes' subjects: none at [`SUBJECT_ZERO`] or below, all from [`SUBJECT_FULL`].
fn subject_say(cos: f32) -> f32 {
    ((cos - SUBJECT_ZERO) / (SUBJECT_FULL - SUBJECT_ZERO)).clamp(0.0, 1.0)
}

/// Cosine similarity at which semantic relatedness starts (below it, vectors add nothing).
const SEMANTIC_ZERO: f32 = 0.3;
/// Nearest vectors added to the candidates when semantic ranking is on.
const SEMANTIC_CANDIDATES: usize = 30;

/// Words of speech and number words that say nothing about a subject (analysed to the index's
/// stems at first use).
const GENERIC_WORDS: &str = "\
    percent percentage per cent thing things stuff people person folks guy guys everybody \
    somebody anybody someone everyone year years month months week weeks day days today time \
    times lot lots really way ways kind sort bit something everything nothing anything point \
    question fact idea example case number numbers amount part place world right good great \
    big small little new old get got go going gone know think say said says make made take \
    took look want need mean means see use used using just like well yeah yes okay ok sure \
    basically literally pretty probably maybe actually definitely one two three four five six \
    seven eight nine ten eleven twelve fifteen twenty thirty forty fifty sixty seventy eighty \
    ninety hundred hundreds thousand thousands million millions billion billions trillion \
    first second third half double twice dozen couple few many much more most less least about \
    around roughly almost nearly zero end start top back long high low different same whole \
    able talk talking show episode podcast listen feel try happen thank thanks love hear \
    interesting important also even still always never often usually every can could would \
    should will now then here there where when what which who why how because so very too \
    other another some all any each our your my we you i me us he she him her his them its was \
    were been being have has had do does did doing done let lets put give come came tell told \
    work working call called keep find found lead leads turn turns best better bad worse real \
    whatever over under again ever since enough quite rather already yet only own next last \
    once far away mostly else sense reason problem problems answer side level kinds step steps \
    area areas term terms";

/// The index stems of [`GENERIC_WORDS`].
static GENERIC: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut a = analyzer();
    let mut out = HashSet::new();
    for w in GENERIC_WORDS.split_whitespace() {
        let mut s = a.token_stream(w);
        while let Some(t) = s.next() {
            out.insert(t.text.clone());
        }
    }
    out
});

/// Whether an analysed term says nothing about a subject: a generic word, or has a digit.
pub(super) fn is_generic(term: &str) -> bool {
    term.chars().any(|c| c.is_ascii_digit()) || GENERIC.contains(term)
}

/// One term of a profile.
#[derive(Debug, Clone, PartialEq)]
struct ProfileTerm {
    term: String,
    /// Where it comes from (the stage-one boost; BM25 adds the rarity).
    source: f32,
    /// `source` × IDF: its share of the subject.
    weight: f32,
    /// Its IDF in the index.
    idf: f32,
}

/// BM25's IDF of a term found in `df` of `n` documents.
fn idf(df: u64, n: u64) -> f32 {
    let (df, n) = (df as f32, n as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// What an insight is about.
struct Subject {
    /// Its profile: stage one's terms, and what a candidate's relatedness is measured on.
    terms: Vec<ProfileTerm>,
    /// Its episode's top terms: what a candidate's episode is measured on.
    episode: Vec<ProfileTerm>,
}

/// Keeps the `n` heaviest terms, heaviest first (ties by term).
fn heaviest(terms: &mut Vec<ProfileTerm>, n: usize) {
    terms.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.term.cmp(&b.term)));
    terms.truncate(n);
}

/// The weight of the terms whose bits are set in `mask`.
fn weight_of(terms: &[ProfileTerm], mask: u32) -> f32 {
    terms
        .iter()
        .enumerate()
        .filter(|(k, _)| mask & (1 << k) != 0)
        .map(|(_, t)| t.weight)
        .sum()
}

/// A candidate with its relatedness.
struct Scored {
    cand: Candidate,
    related: f32,
    podcast_same: bool,
}

impl SearchIndex {
    /// Insights on the same subject as `insight`, most related first: never itself or a
    /// near-duplicate of it (or of each other), not from its own episode unless
    /// `same_episode`, and none below [`FLOOR`] (so possibly fewer than `limit`, or none).
    /// Each hit's score is its relatedness (0..=1) after the variety preference.
    pub fn related(
        &self,
        insight: &InsightView,
        limit: usize,
        same_episode: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Hit>, SearchError> {
        // Relatedness is about the subject, not the date: `now` is kept for the port's shape.
        let _ = now;
        self.related_above(insight, limit, same_episode, FLOOR)
    }

    /// [`SearchIndex::related`] with another floor (the judged report sweeps it).
    pub(crate) fn related_above(
        &self,
        insight: &InsightView,
        limit: usize,
        same_episode: bool,
        floor: f32,
    ) -> Result<Vec<Hit>, SearchError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let subject = self.subject(&searcher, insight)?;
        if subject.terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.profile_query(&subject.terms, searcher.num_docs(), insight, same_episode);
        let depth = (limit * OVERFETCH + OVERFETCH_MIN).max(MIN_POOL);
        let mut cands = self.stage_one(&searcher, &query, depth)?;
        cands.retain(|c| {
            c.hit.id != insight.id && (same_episode || c.episode != insight.episode_id)
        });
        let semantic = self.semantic_neighbours(&searcher, insight, same_episode, &mut cands)?;
        let lexical = self.lexical(&searcher, &cands, &subject.terms)?;
        let mut episodes: Vec<i64> = cands.iter().map(|c| c.episode).collect();
        episodes.sort_unstable();
        episodes.dedup();
        let alike = self.subjects.similarity(insight.episode_id, &episodes);
        let by_words: Vec<i64> = episodes
            .into_iter()
            .filter(|e| !matches!(alike.get(e), Some((_, true))))
            .collect();
        let agreement =
            self.agreement(&searcher, &by_words, &subject.episode, insight.episode_id)?;
        let mut scored: Vec<Scored> = Vec::with_capacity(cands.len());
        for c in cands {
            let lex = lexical.get(&c.hit.id).copied().unwrap_or(0.0);
            // By subject: times how alike the two episodes' subjects are, when both are known.
            // By words alone: lowered when the candidate's episode's insights do not share the
            // insight's episode's top terms (when that episode says anything: one of a single
            // insight has no subject of its own), and held to [`WORDS_ONLY`] times the floor;
            // they count only when a subject is unknown or thin (too little talk to say).
            let by_words = || {
                agreement
                    .get(&c.episode)
                    .map_or(lex, |a| lex * (1.0 - EPISODE_SAY + EPISODE_SAY * a))
                    / WORDS_ONLY
            };
            let lex = match alike.get(&c.episode) {
                Some((cos, true)) => lex * subject_say(*cos),
                Some((cos, false)) => (lex * subject_say(*cos)).max(by_words()),
                None => by_words(),
            };
            let related = match semantic.get(&c.hit.id) {
                Some(cos) => {
                    let sem = ((cos - SEMANTIC_ZERO) / (1.0 - SEMANTIC_ZERO)).clamp(0.0, 1.0);
                    lex.max(0.5 * lex + 0.5 * sem)
                }
                None => lex,
            };
            if related < floor {
                continue;
            }
            let podcast_same = self.podcast_of(&searcher, &c) == Some(insight.podcast_id);
            scored.push(Scored {
                cand: c,
                related,
                podcast_same,
            });
        }
        Ok(pick(scored, &signature(&insight.text), limit))
    }

    /// The subject of an insight: its profile (weighted terms, heaviest first, at most
    /// [`PROFILE_TERMS`]; terms no other insight holds are left out, they match nothing) and its
    /// episode's top terms (weighted alike).
    fn subject(&self, searcher: &Searcher, insight: &InsightView) -> Result<Subject, SearchError> {
        let mut source: HashMap<String, (f32, u32)> = HashMap::new();
        let mut add = |text: &str, w: f32| {
            for (t, _) in self.tokens(text) {
                if is_generic(&t) {
                    continue;
                }
                let e = source.entry(t).or_insert((0.0, 0));
                e.0 = e.0.max(w);
                e.1 += 1;
            }
        };
        add(&insight.text, TEXT_WEIGHT);
        for t in &insight.topics {
            add(t, TOPIC_WEIGHT);
        }
        add(&insight.episode_title, TITLE_WEIGHT);
        if let Some(ch) = insight.chapter.as_deref() {
            add(ch, TITLE_WEIGHT);
        }
        let in_episode = self.episode_counts(searcher, insight)?;
        let n = searcher.num_docs().max(1);
        let idf_of = |t: &str| -> Result<Option<f32>, SearchError> {
            let df = searcher.doc_freq(&Term::from_field_text(self.fields.all, t))?;
            Ok((df > 1).then(|| idf(df, n)))
        };
        // A word the episode keeps coming back to is more its subject than one said in passing.
        let focus = |t: &str| 1.0 + (1.0 + in_episode.get(t).copied().unwrap_or(0) as f32).ln();
        let mut terms: Vec<ProfileTerm> = Vec::with_capacity(source.len());
        for (term, (w, count)) in source {
            let Some(idf) = idf_of(&term)? else { continue };
            let w = w * (1.0 + 0.25 * (count.saturating_sub(1)) as f32).min(1.5);
            terms.push(ProfileTerm {
                weight: w * idf * focus(&term),
                source: w,
                idf,
                term,
            });
        }
        let mut episode: Vec<ProfileTerm> = Vec::new();
        for (term, count) in &in_episode {
            let Some(idf) = idf_of(term)? else { continue };
            if *count < 2 {
                continue;
            }
            episode.push(ProfileTerm {
                weight: idf * focus(term),
                source: EPISODE_WEIGHT,
                idf,
                term: term.clone(),
            });
        }
        heaviest(&mut episode, EPISODE_TERMS);
        for e in &episode {
            if !terms.iter().any(|t| t.term == e.term) {
                terms.push(ProfileTerm {
                    weight: e.weight * EPISODE_WEIGHT,
                    ..e.clone()
                });
            }
        }
        heaviest(&mut terms, PROFILE_TERMS);
        Ok(Subject { terms, episode })
    }

    /// For each word of the other insights of `insight`'s episode (generic words aside), how
    /// many of them hold it, read from their stored text (at most [`EPISODE_SAMPLE`]).
    fn episode_counts(
        &self,
        searcher: &Searcher,
        insight: &InsightView,
    ) -> Result<HashMap<String, u32>, SearchError> {
        let q = TermQuery::new(
            Term::from_field_i64(self.fields.episode, insight.episode_id),
            IndexRecordOption::Basic,
        );
        let mut docs: Vec<_> = searcher.search(&q, &DocSetCollector)?.into_iter().collect();
        docs.sort();
        let mut counts: HashMap<String, u32> = HashMap::new();
        for addr in docs.into_iter().take(EPISODE_SAMPLE) {
            let d: TantivyDocument = searcher.doc(addr)?;
            let text = d.get_first(self.fields.text).and_then(|v| v.as_str());
            let Some(text) = text.filter(|t| *t != insight.text) else {
                continue;
            };
            let distinct: HashSet<String> = self
                .tokens(text)
                .into_iter()
                .map(|(t, _)| t)
                .filter(|t| !is_generic(t))
                .collect();
            for t in distinct {
                *counts.entry(t).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// Stage one's query: the profile's terms of at most [`STAGE_ONE_SHARE`]'s frequency (all
    /// of them if fewer than [`MIN_SHARED`] are), boosted by where they come from (BM25 weighs
    /// rarity); never the insight itself, and not its episode unless `same_episode`. The
    /// exclusions make tantivy walk the union of the terms' postings rather than prune it with
    /// block-max WAND, which is the faster of the two for a profile's many terms (at a million
    /// insights, 6 ms against 10 ms at the median, 12 ms against 27 ms at p99).
    fn profile_query(
        &self,
        profile: &[ProfileTerm],
        docs: u64,
        insight: &InsightView,
        same_episode: bool,
    ) -> BooleanQuery {
        let f = &self.fields;
        let common = idf((docs / STAGE_ONE_SHARE).max(STAGE_ONE_MIN_DF), docs);
        let mut sought: Vec<&ProfileTerm> = profile.iter().filter(|p| p.idf >= common).collect();
        if sought.len() < MIN_SHARED as usize {
            sought = profile.iter().collect();
        }
        let words: Vec<(Occur, Box<dyn Query>)> = sought
            .into_iter()
            .map(|p| {
                let t = TermQuery::new(
                    Term::from_field_text(f.all, &p.term),
                    IndexRecordOption::WithFreqs,
                );
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(t), p.source)) as Box<dyn Query>,
                )
            })
            .collect();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(words)))];
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_u64(f.id, insight.id as u64),
                IndexRecordOption::Basic,
            )),
        ));
        if !same_episode {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_i64(f.episode, insight.episode_id),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        BooleanQuery::new(clauses)
    }

    /// Each candidate's share of the profile's weight (by id): the profile terms it holds, read
    /// from the postings of `all` sought to the candidates in document order; 0 when it shares
    /// fewer than [`MIN_SHARED`] terms.
    fn lexical(
        &self,
        searcher: &Searcher,
        cands: &[Candidate],
        profile: &[ProfileTerm],
    ) -> Result<HashMap<i64, f32>, SearchError> {
        let docs: Vec<(DocAddress, i64)> = cands.iter().map(|c| (c.addr, c.hit.id)).collect();
        let held = self.holding(searcher, &docs, profile)?;
        let total: f32 = profile
            .iter()
            .map(|t| t.weight)
            .sum::<f32>()
            .max(f32::MIN_POSITIVE);
        let mut out = HashMap::new();
        for c in cands {
            let mask = held.get(&c.hit.id).copied().unwrap_or(0);
            let share = weight_of(profile, mask) / total;
            let share = if mask.count_ones() >= MIN_SHARED {
                share
            } else {
                0.0
            };
            out.insert(c.hit.id, share);
        }
        Ok(out)
    }

    /// How much each of `episodes` talks about the insight's episode's subject, read from the
    /// insights (for episodes whose subject the index does not know): the share of the episode
    /// terms' weight that at least two of its insights hold. Empty when the insight's episode
    /// has no top terms.
    fn agreement(
        &self,
        searcher: &Searcher,
        episodes: &[i64],
        episode: &[ProfileTerm],
        own: i64,
    ) -> Result<HashMap<i64, f32>, SearchError> {
        let wanted: HashSet<i64> = episodes.iter().copied().filter(|e| *e != own).collect();
        if episode.is_empty() || wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let f = &self.fields;
        let any: Vec<(Occur, Box<dyn Query>)> = wanted
            .iter()
            .map(|e| {
                let t = TermQuery::new(
                    Term::from_field_i64(f.episode, *e),
                    IndexRecordOption::Basic,
                );
                (Occur::Should, Box::new(t) as Box<dyn Query>)
            })
            .collect();
        let mut docs: Vec<(DocAddress, i64)> = Vec::new();
        for addr in searcher.search(&BooleanQuery::new(any), &DocSetCollector)? {
            let cols = self.columns(searcher, addr.segment_ord)?;
            if let Some(e) = cols.episode.first(addr.doc_id) {
                docs.push((addr, e));
            }
        }
        // Per episode, per term: how many of its insights hold it.
        let mut counts: HashMap<i64, Vec<u32>> = HashMap::new();
        for (_, e) in &docs {
            counts.entry(*e).or_insert_with(|| vec![0; episode.len()]);
        }
        let keyed: Vec<(DocAddress, i64)> = docs
            .iter()
            .enumerate()
            .map(|(i, (a, _))| (*a, i as i64))
            .collect();
        let held = self.holding(searcher, &keyed, episode)?;
        for (i, (_, e)) in docs.iter().enumerate() {
            let mask = held.get(&(i as i64)).copied().unwrap_or(0);
            if let Some(v) = counts.get_mut(e) {
                for (k, n) in v.iter_mut().enumerate() {
                    *n += (mask >> k) & 1;
                }
            }
        }
        let total: f32 = episode
            .iter()
            .map(|t| t.weight)
            .sum::<f32>()
            .max(f32::MIN_POSITIVE);
        Ok(counts
            .into_iter()
            .map(|(e, v)| {
                let mask = v
                    .iter()
                    .enumerate()
                    .fold(0u32, |m, (k, n)| if *n >= 2 { m | 1 << k } else { m });
                (e, weight_of(episode, mask) / total)
            })
            .collect())
    }

    /// For each document (keyed by the caller), a bit per term of `terms` it holds in `all`
    /// (postings sought in document order, segment by segment).
    fn holding(
        &self,
        searcher: &Searcher,
        docs: &[(DocAddress, i64)],
        terms: &[ProfileTerm],
    ) -> Result<HashMap<i64, u32>, SearchError> {
        let mut out: HashMap<i64, u32> = HashMap::with_capacity(docs.len());
        let mut order: Vec<&(DocAddress, i64)> = docs.iter().collect();
        order.sort_by_key(|(a, _)| (a.segment_ord, a.doc_id));
        for group in order.chunk_by(|a, b| a.0.segment_ord == b.0.segment_ord) {
            let seg = searcher.segment_reader(group[0].0.segment_ord);
            let inv = seg.inverted_index(self.fields.all)?;
            for (k, p) in terms.iter().enumerate().take(32) {
                let term = Term::from_field_text(self.fields.all, &p.term);
                let Some(mut postings) = inv
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(tantivy::TantivyError::from)?
                else {
                    continue;
                };
                for (addr, key) in group {
                    if postings.doc() < addr.doc_id {
                        postings.seek(addr.doc_id);
                    }
                    if postings.doc() == addr.doc_id {
                        *out.entry(*key).or_default() |= 1 << k;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The podcast of a candidate (a fast field).
    fn podcast_of(&self, searcher: &Searcher, c: &Candidate) -> Option<i64> {
        searcher
            .segment_reader(c.addr.segment_ord)
            .fast_fields()
            .i64("podcast")
            .ok()?
            .first(c.addr.doc_id)
    }

    /// With semantic ranking on and a vector for `insight`: its nearest insights' cosine
    /// similarity, by id, the ones stage one missed added to `cands` (same exclusions).
    fn semantic_neighbours(
        &self,
        searcher: &Searcher,
        insight: &InsightView,
        same_episode: bool,
        cands: &mut Vec<Candidate>,
    ) -> Result<HashMap<i64, f32>, SearchError> {
        let Some(near) = self.semantic.neighbours(insight.id, SEMANTIC_CANDIDATES) else {
            return Ok(HashMap::new());
        };
        let have: HashSet<i64> = cands.iter().map(|c| c.hit.id).collect();
        for (id, _) in &near {
            if have.contains(id) || *id == insight.id {
                continue;
            }
            let q = TermQuery::new(
                Term::from_field_u64(self.fields.id, *id as u64),
                IndexRecordOption::Basic,
            );
            for c in self.stage_one(searcher, &q, 1)? {
                if c.hit.id == *id && (same_episode || c.episode != insight.episode_id) {
                    cands.push(c);
                }
            }
        }
        Ok(near.into_iter().collect())
    }
}

/// The related list from scored candidates: best first after the variety preference (each
/// further item of an episode already listed, and items of the insight's own show, count for
/// less), without near-duplicates of the insight (`own`) or of each other; ties go to the
/// fresher, then the newer id.
fn pick(mut scored: Vec<Scored>, own: &[u64], limit: usize) -> Vec<Hit> {
    scored.retain(|s| !near_duplicate(&s.cand.signature, own));
    let mut kept: Vec<Scored> = Vec::new();
    let mut per_episode: HashMap<i64, i32> = HashMap::new();
    while kept.len() < limit && !scored.is_empty() {
        let value = |s: &Scored| {
            let seen = per_episode.get(&s.cand.episode).copied().unwrap_or(0);
            let show = if s.podcast_same { SAME_SHOW } else { 1.0 };
            s.related * show * SAME_EPISODE_DECAY.powi(seen)
        };
        let best = (0..scored.len())
            .max_by(|&a, &b| {
                let (x, y) = (&scored[a], &scored[b]);
                value(x)
                    .total_cmp(&value(y))
                    .then(x.cand.published.cmp(&y.cand.published))
                    .then(x.cand.hit.id.cmp(&y.cand.hit.id))
            })
            .unwrap_or(0);
        let mut s = scored.swap_remove(best);
        s.cand.hit.score = value(&s);
        *per_episode.entry(s.cand.episode).or_default() += 1;
        scored.retain(|o| !near_duplicate(&o.cand.signature, &s.cand.signature));
        kept.push(s);
    }
    kept.into_iter().map(|s| s.cand.hit).collect()
}
