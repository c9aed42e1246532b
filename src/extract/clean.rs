//! Spoken words made readable, faithfully: the rules that turn a passage as said into the text
//! an insight shows.
//!
//! Each rule removes something a reader would stumble over and nothing that carries meaning:
//! transcript notes, disfluencies ("um"), false starts (the abandoned fragment before a dash
//! break, not just the dash), stutters and repeated words or phrases, fillers ("you know",
//! "I mean", hedging "kind of"), backchannel ("Yep." from the other speaker), leading discourse
//! markers ("Yeah, so…"), tag questions (", right?"); then sentence case is repaired. The quote
//! keeps the words as said; only the shown text is cleaned.
//!
//! [`clean`] applies every rule; [`ends_mid_thought`] tells a passage that stops before its
//! thought does, so the engine can extend or drop it.

/// A word as written in the passage, with its punctuation.
type Token = String;

/// Disfluencies: sounds, never words.
pub const DISFLUENCIES: &[&str] = &[
    "um", "umm", "uh", "uhh", "erm", "er", "uhm", "hmm", "mm", "ah",
];

/// Words that make up a backchannel sentence ("Yep.", "Mm-hmm. Right.").
const BACKCHANNEL: &[&str] = &[
    "yeah",
    "yep",
    "yup",
    "yes",
    "right",
    "okay",
    "ok",
    "sure",
    "exactly",
    "totally",
    "absolutely",
    "mmhmm",
    "mhm",
    "uhhuh",
    "mm",
    "hmm",
    "wow",
    "cool",
    "nice",
    "true",
    "indeed",
    "definitely",
    "correct",
    "gotcha",
    "oh",
    "ah",
    "interesting",
    "great",
    "awesome",
    "agreed",
    "no",
    "nope",
    "fair",
    "uh",
    "um",
];

/// Backchannel words that, capitalised in the middle of a sentence, are the other speaker's
/// ("Strokes are brain Yep.").
const INTERJECTED: &[&str] = &["yep", "yeah", "mmhmm", "mhm", "uhhuh", "okay"];

/// Discourse markers dropped at the start of a sentence when a comma follows ("Yeah, …").
const LEADING_MARKERS: &[&str] = &[
    "yeah",
    "yes",
    "well",
    "so",
    "oh",
    "okay",
    "ok",
    "right",
    "now",
    "look",
    "honestly",
    "actually",
    "basically",
    "anyway",
    "anyways",
    "and",
    "but",
    "like",
    "um",
    "uh",
    "see",
];

/// Words after which "kind of" and "sort of" name a kind ("a kind of battery") and stay.
pub(super) const KIND_DETERMINERS: &[&str] = &[
    "a",
    "the",
    "this",
    "that",
    "what",
    "some",
    "any",
    "every",
    "one",
    "which",
    "no",
    "same",
    "different",
    "another",
    "these",
    "those",
    "my",
    "your",
    "our",
    "their",
    "his",
    "her",
    "its",
    "whatever",
    "all",
    "certain",
    "particular",
    "new",
    "right",
    "wrong",
];

/// Words a sentence does not end on when its thought is complete.
const DANGLING: &[&str] = &[
    "to", "the", "a", "an", "of", "and", "or", "but", "because", "with", "for", "from", "than",
    "as", "at", "my", "your", "our", "their", "its", "his", "her", "very", "really", "like", "if",
    "when", "whether", "although", "though", "which", "whose", "whom", "into", "between",
    "without", "i", "we", "they", "he", "she", "there's", "it's", "just", "any", "some", "every",
    "each", "is", "are", "was", "were",
];

/// The lowercase letters and digits of a token ("Yep." → "yep", "Mm-hmm," → "mmhmm",
/// "It's" → "it's").
fn bare(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '’')
        .map(|c| if c == '’' { '\'' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a token closes a sentence.
fn ends_sentence(t: &str) -> bool {
    t.trim_end_matches(['"', '”', '’', '\'', ')', ']'])
        .ends_with(['.', '!', '?', '…'])
}

/// Whether a token closes a clause (a sentence, or a comma, colon or semicolon).
fn ends_clause(t: &str) -> bool {
    ends_sentence(t) || t.ends_with([',', ';', ':'])
}

/// A dash standing alone: " -- ", " - ", " – ", " — ".
fn is_dash(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| matches!(c, '-' | '–' | '—'))
}

/// The whole cleaning, in order. The result is empty when nothing readable is left.
pub fn clean(quote: &str) -> String {
    clean_checked(quote).0
}

/// [`clean`], also saying whether a dash break could not be resolved as a false start or an
/// aside (the engine then prefers another passage).
pub fn clean_checked(quote: &str) -> (String, bool) {
    let stripped = strip_notes(quote);
    let mut toks: Vec<Token> = split_dashes(&stripped);
    drop_disfluencies(&mut toks);
    drop_backchannel(&mut toks);
    let unresolved = drop_false_starts(&mut toks);
    drop_trailed_off(&mut toks);
    drop_cut_words(&mut toks);
    collapse_repeats(&mut toks);
    drop_fillers(&mut toks);
    drop_leading_markers(&mut toks);
    drop_tag_questions(&mut toks);
    collapse_repeats(&mut toks);
    close_pauses(&mut toks);
    (sentence_case(&balance_quotes(&join(&toks))), unresolved)
}

/// Removes transcript notes: bracketed times and remarks ("[31:48]", "[laughter]",
/// "[unintelligible 00:25:22.13]") and starred stage directions ("*Intro Music*").
pub fn strip_notes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['[', '*']) {
        let close_char = if rest[open..].starts_with('[') {
            ']'
        } else {
            '*'
        };
        let after = &rest[open + 1..];
        match after.find(close_char) {
            Some(close) if close <= 60 && !after[..close].contains(['[', '\n']) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Tokens, with a dash glued to a word ("to--", "ourselves—you") split off as its own token.
fn split_dashes(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for t in text.split_whitespace() {
        let mut rest = t;
        // "word--word" / "word—word": an interruption inside one token.
        loop {
            let cut = rest
                .find("--")
                .map(|i| (i, 2))
                .or_else(|| rest.find('—').map(|i| (i, '—'.len_utf8())));
            match cut {
                Some((i, n)) => {
                    if i > 0 {
                        out.push(rest[..i].to_string());
                    }
                    out.push("--".to_string());
                    rest = &rest[i + n..];
                }
                None => break,
            }
        }
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

/// Drops "um", "uh" and the like, keeping a sentence end that was attached to one.
fn drop_disfluencies(toks: &mut Vec<Token>) {
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    for t in toks.drain(..) {
        if DISFLUENCIES.contains(&bare(&t).as_str()) {
            if let Some(last) = out.last_mut()
                && ends_sentence(&t)
                && !ends_sentence(last)
            {
                let last_char = t.trim_end_matches(['"', '”']).chars().last();
                last.truncate(last.trim_end_matches([',', ';', ':']).len());
                last.extend(last_char);
            }
            continue;
        }
        out.push(t);
    }
    *toks = out;
}

/// Token ranges of the sentences of `toks`.
fn sentence_ranges(toks: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if ends_sentence(t) {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < toks.len() {
        out.push((start, toks.len()));
    }
    out
}

/// Drops backchannel: sentences made only of acknowledgements ("Yep.", "Mm-hmm. Right.") when
/// the passage says more, and an acknowledgement capitalised inside another sentence ("Strokes
/// are brain Yep." → "Strokes are brain.").
fn drop_backchannel(toks: &mut Vec<Token>) {
    let ranges = sentence_ranges(toks);
    let is_ack = |(a, b): (usize, usize)| {
        toks[a..b]
            .iter()
            .all(|t| BACKCHANNEL.contains(&bare(t).as_str()))
    };
    let substantive = ranges.iter().filter(|r| !is_ack(**r)).count();
    let mut keep = vec![true; toks.len()];
    if substantive > 0 {
        for r in &ranges {
            if is_ack(*r) {
                keep[r.0..r.1].iter_mut().for_each(|k| *k = false);
            }
        }
    }
    for i in 1..toks.len() {
        let t = &toks[i];
        let capital = t.chars().next().is_some_and(char::is_uppercase);
        if capital
            && keep[i]
            && keep[i - 1]
            && INTERJECTED.contains(&bare(t).as_str())
            && !ends_clause(&toks[i - 1])
            && !is_dash(&toks[i - 1])
        {
            keep[i] = false;
            // Its sentence end moves to the word before it.
            if let Some(p) = t.chars().last().filter(|c| matches!(c, '.' | '!' | '?')) {
                toks[i - 1].push(p);
            }
        }
    }
    let mut k = keep.iter();
    toks.retain(|_| *k.next().unwrap_or(&true));
}

/// Resolves dash breaks. A fragment abandoned at a dash goes: when the words after the dash
/// restart a phrase of the fragment ("I stepped down as exec chair -- or stepped down as CEO"),
/// the restart replaces it from there; otherwise a short fragment since the clause's start goes
/// ("With Kilo, we pride ourselves on -- you can use…" → "With Kilo, you can use…"). A dash
/// that ends the passage leaves an unfinished sentence, which goes whole. Two dashes around a
/// few words are an aside and become em dashes. Returns whether a dash was left unresolved.
fn drop_false_starts(toks: &mut Vec<Token>) -> bool {
    let mut unresolved = false;
    let mut i = 0;
    while i < toks.len() {
        if !is_dash(&toks[i]) {
            i += 1;
            continue;
        }
        let clause_start = (0..i)
            .rev()
            .find(|j| ends_clause(&toks[*j]) || is_dash(&toks[*j]))
            .map_or(0, |j| j + 1);
        let sentence_start = (0..i)
            .rev()
            .find(|j| ends_sentence(&toks[*j]))
            .map_or(0, |j| j + 1);
        // Nothing after the dash in this sentence: the sentence was abandoned.
        let after_end = (i + 1..toks.len())
            .find(|j| ends_sentence(&toks[*j]) || is_dash(&toks[*j]))
            .map_or(toks.len(), |j| j + 1);
        if i + 1 == toks.len() {
            toks.drain(sentence_start..);
            break;
        }
        if i > 0 && ends_sentence(&toks[i - 1]) {
            // "Yes. - And then…": a dash between sentences is only a pause.
            toks.remove(i);
            continue;
        }
        if let Some(close) = aside_close(toks, i, clause_start) {
            toks[i] = "—".into();
            toks[close] = "—".into();
            i = close + 1;
            continue;
        }
        let restart = restart_at(toks, i, after_end);
        let matched = restart_point(&toks[clause_start..i], toks, restart);
        if let Some(p) = matched {
            toks.drain(clause_start + p..restart);
            i = clause_start + p;
        } else if i - clause_start <= 8 {
            toks.drain(clause_start..restart);
            i = clause_start;
        } else {
            unresolved = true;
            toks[i] = "—".into();
            i += 1;
        }
    }
    unresolved
}

/// The closing dash of an aside opened by the dash at `i`: "A - X - B" with a short X that does
/// not restart the clause.
fn aside_close(toks: &[Token], i: usize, clause_start: usize) -> Option<usize> {
    let close = (i + 1..toks.len().min(i + 12)).find(|j| is_dash(&toks[*j]))?;
    (close > i + 1
        && close + 1 < toks.len()
        && !toks[i + 1..close].iter().any(|t| ends_sentence(t))
        && clause_start < i
        && !restarts(&toks[clause_start..i], &toks[i + 1..close]))
    .then_some(close)
}

/// Where the speaker starts again after the dash at `i`: past a correction's words ("-- or",
/// "-- sorry,", "-- I mean,"), within the sentence ending at `after_end`.
fn restart_at(toks: &[Token], i: usize, after_end: usize) -> usize {
    let mut restart = i + 1;
    while restart < toks.len()
        && matches!(
            bare(&toks[restart]).as_str(),
            "or" | "sorry" | "no" | "i" | "mean" | "yeah" | "yes" | "well" | "so" | "like"
        )
        && restart + 1 < after_end
    {
        if bare(&toks[restart]) == "i" && bare(&toks[restart + 1]) != "mean" {
            break;
        }
        restart += 1;
    }
    restart
}

/// The restart: the last place the abandoned `fragment` said the word the speaker starts again
/// with (at `toks[restart]`), not far back; a common word must be followed by the same word
/// both times.
fn restart_point(fragment: &[Token], toks: &[Token], restart: usize) -> Option<usize> {
    let head = bare(&toks[restart]);
    fragment.iter().rposition(|t| bare(t) == head).filter(|p| {
        let common = matches!(
            head.as_str(),
            "the" | "a" | "an" | "and" | "to" | "of" | "in" | "it" | "that"
        );
        let agree = fragment.get(p + 1).map(|t| bare(t)) == toks.get(restart + 1).map(|t| bare(t));
        fragment.len() - p <= 12 && (!common || agree)
    })
}

/// Whether `after` restarts what `fragment` began (its first word occurs in the fragment).
fn restarts(fragment: &[Token], after: &[Token]) -> bool {
    let Some(head) = after.first().map(|t| bare(t)) else {
        return false;
    };
    fragment.iter().any(|t| bare(t) == head)
}

/// Drops a sentence inside the passage that trails off before its thought ends ("…the control
/// system and logic to... Because most winds are gusty…"): the speaker abandoned it.
fn drop_trailed_off(toks: &mut Vec<Token>) {
    let ranges = sentence_ranges(toks);
    let mut keep = vec![true; toks.len()];
    for (k, &(a, b)) in ranges.iter().enumerate() {
        let last = &toks[b - 1];
        let trails = last.ends_with("...") || last.ends_with('…');
        if k + 1 < ranges.len() && trails && DANGLING.contains(&bare(last).as_str()) {
            keep[a..b].iter_mut().for_each(|x| *x = false);
        }
    }
    let mut k = keep.iter();
    toks.retain(|_| *k.next().unwrap_or(&true));
}

/// Drops words cut off mid-way ("the sys- the system": "sys-"), which the repeat rule cannot
/// see.
fn drop_cut_words(toks: &mut Vec<Token>) {
    let n = toks.len();
    let mut keep = vec![true; n];
    for i in 0..n.saturating_sub(1) {
        let t = &toks[i];
        if t.ends_with('-') && !is_dash(t) && t.len() > 1 {
            keep[i] = false;
        }
    }
    let mut k = keep.iter();
    toks.retain(|_| *k.next().unwrap_or(&true));
}

/// Collapses a word or phrase said twice in a row ("I think I think", "in this in this", "it is
/// a it is a", "the, the"), keeping the second saying (its punctuation ends the phrase).
fn collapse_repeats(toks: &mut Vec<Token>) {
    let mut bares: Vec<String> = toks.iter().map(|t| bare(t)).collect();
    let mut i = 0;
    while i < toks.len() {
        let repeated = (1..=5).rev().find(|&n| {
            i + 2 * n <= toks.len()
                && bares[i..i + n] == bares[i + n..i + 2 * n]
                && bares[i..i + n].iter().all(|b| !b.is_empty())
                // Inside the first saying no sentence may end ("Yes. Yes." is two answers),
                // and "had had" is grammar.
                && !toks[i..i + n].iter().any(|t| ends_sentence(t))
                && !(n == 1 && (bares[i] == "had" || bares[i].chars().all(|c| c.is_ascii_digit())))
        });
        match repeated {
            Some(n) => {
                toks.drain(i..i + n);
                bares.drain(i..i + n);
                i = i.saturating_sub(5);
            }
            None => i += 1,
        }
    }
}

/// Removes the punctuation-free word `t` while keeping what punctuation it carried at its end
/// on the word before (a sentence end, else nothing).
fn remove_keeping_end(toks: &mut Vec<Token>, from: usize, to: usize) {
    let end = toks[to - 1]
        .chars()
        .last()
        .filter(|c| matches!(c, '.' | '!' | '?'));
    toks.drain(from..to);
    if let (Some(c), Some(prev)) = (end, from.checked_sub(1).and_then(|p| toks.get_mut(p))) {
        prev.truncate(prev.trim_end_matches([',', ';', ':']).len());
        if !ends_sentence(prev) {
            prev.push(c);
        }
    }
}

/// Drops fillers that carry no meaning: "you know" and "I mean" set off as asides, hedging
/// "kind of" / "sort of" (not "a kind of battery"), "like" as a pause, "basically",
/// "literally", and vague tails ("or something like that", "or whatever").
fn drop_fillers(toks: &mut Vec<Token>) {
    let mut i = 0;
    while i < toks.len() {
        type Rule = fn(&[Token], usize) -> Option<Filler>;
        let rules: [Rule; 5] = [aside, hedge, like_pause, inner_yeah, vague_tail];
        match rules.iter().find_map(|rule| rule(toks, i)) {
            Some(Filler::KeepingEnd(end)) => remove_keeping_end(toks, i, end),
            Some(Filler::Words(end)) => {
                toks.drain(i..end);
            }
            None => i += 1,
        }
    }
}

/// A filler found at a token: where it ends, and whether a sentence end on its last token moves
/// to the word before it.
enum Filler {
    /// Tokens up to this index go; a full stop on the last of them is kept.
    KeepingEnd(usize),
    /// Tokens up to this index go.
    Words(usize),
}

/// The bare words around token `i`: its own, the next one, and the token before it.
fn around(toks: &[Token], i: usize) -> (String, String, Option<&str>) {
    let next = toks.get(i + 1).map(|t| bare(t)).unwrap_or_default();
    (
        bare(&toks[i]),
        next,
        i.checked_sub(1).map(|p| toks[p].as_str()),
    )
}

/// "you know," and "I mean," set off as asides (not "you know what…" or "you know the answer").
fn aside(toks: &[Token], i: usize) -> Option<Filler> {
    let (b, next, prev) = around(toks, i);
    if !((b == "you" && next == "know") || (b == "i" && next == "mean")) {
        return None;
    }
    let after_boundary = prev.is_none_or(ends_clause);
    let second = &toks[i + 1];
    let set_off = second.ends_with(',')
        || (after_boundary
            && (b == "i"
                || !matches!(
                    toks.get(i + 2).map(|t| bare(t)).as_deref(),
                    Some("what" | "how" | "why" | "that" | "where" | "who" | "when" | "if")
                )))
        || ends_sentence(second);
    let object_follows = b == "you" && !second.ends_with([',', '.', '!', '?']) && !after_boundary;
    (set_off && !object_follows).then_some(Filler::KeepingEnd(i + 2))
}

/// Hedging "kind of", "sort of", "kinda", "sorta" (not "a kind of battery").
fn hedge(toks: &[Token], i: usize) -> Option<Filler> {
    let (b, next, prev) = around(toks, i);
    let prev_bare = prev.map(bare).unwrap_or_default();
    if KIND_DETERMINERS.contains(&prev_bare.as_str()) {
        return None;
    }
    if (b == "kind" || b == "sort") && next == "of" {
        return Some(Filler::Words(i + 2));
    }
    matches!(b.as_str(), "kinda" | "sorta").then_some(Filler::Words(i + 1))
}

/// Words before "like" that make "like 30" an approximation ("it took like 30 minutes").
const BEFORE_APPROX_LIKE: &[&str] = &[
    "to", "up", "at", "about", "is", "was", "were", "are", "be", "it's", "takes", "took", "for",
    "around", "of", "maybe", "get", "got", "had", "have", "spent", "cost", "costs",
];

/// "like" as a pause (", like,") or before a figure ("took like 30 minutes"); "basically",
/// "literally".
fn like_pause(toks: &[Token], i: usize) -> Option<Filler> {
    let (b, next, prev) = around(toks, i);
    if matches!(b.as_str(), "basically" | "literally") {
        return Some(Filler::KeepingEnd(i + 1));
    }
    if b != "like" {
        return None;
    }
    let after_boundary = prev.is_none_or(ends_clause);
    let paused =
        toks[i].ends_with(',') && (after_boundary || prev.is_some_and(|p| p.ends_with(',')));
    let prev_bare = prev.map(bare).unwrap_or_default();
    let approx = next.chars().next().is_some_and(|c| c.is_ascii_digit())
        && BEFORE_APPROX_LIKE.contains(&prev_bare.as_str());
    (paused || approx).then_some(Filler::KeepingEnd(i + 1))
}

/// ", yeah," and "and yeah," inside a sentence.
fn inner_yeah(toks: &[Token], i: usize) -> Option<Filler> {
    let (b, _, prev) = around(toks, i);
    let prev_bare = prev.map(bare).unwrap_or_default();
    (b == "yeah"
        && toks[i].ends_with(',')
        && !after_boundary_sentence(toks, i)
        && (prev.is_some_and(|p| p.ends_with(','))
            || matches!(prev_bare.as_str(), "and" | "but" | "so" | "then")))
    .then_some(Filler::Words(i + 1))
}

/// Vague tails: "or something (like that)", "or whatever", "or anything".
fn vague_tail(toks: &[Token], i: usize) -> Option<Filler> {
    let (b, next, _) = around(toks, i);
    if b != "or" || !matches!(next.as_str(), "something" | "whatever" | "anything") {
        return None;
    }
    let mut end = i + 2;
    if toks.get(end).map(|t| bare(t)).as_deref() == Some("like")
        && toks.get(end + 1).map(|t| bare(t)).as_deref() == Some("that")
    {
        end += 2;
    }
    let tail_ends = toks[end - 1].ends_with([',', '.', '!', '?']) || end == toks.len();
    tail_ends.then_some(Filler::KeepingEnd(end))
}

/// Whether token `i` opens a sentence.
fn after_boundary_sentence(toks: &[Token], i: usize) -> bool {
    i == 0 || ends_sentence(&toks[i - 1])
}

/// Drops discourse markers that open a sentence ("Yeah, so…", "Well, …", "So, …", "And so we…")
/// and a bare "So" before the sentence's subject.
fn drop_leading_markers(toks: &mut Vec<Token>) {
    let mut i = 0;
    while i < toks.len() {
        let at_start = i == 0 || ends_sentence(&toks[i - 1]);
        if !at_start {
            i += 1;
            continue;
        }
        let b = bare(&toks[i]);
        let next = toks.get(i + 1).map(|t| bare(t)).unwrap_or_default();
        let with_comma = toks[i].ends_with(',') && LEADING_MARKERS.contains(&b.as_str());
        let bare_so = matches!(b.as_str(), "so" | "and" | "but")
            && !toks[i].ends_with(['.', '!', '?'])
            && matches!(
                next.as_str(),
                "so" | "yeah"
                    | "i"
                    | "we"
                    | "you"
                    | "they"
                    | "it"
                    | "it's"
                    | "that's"
                    | "there"
                    | "there's"
                    | "the"
                    | "if"
                    | "when"
                    | "what"
                    | "now"
                    | "our"
                    | "my"
                    | "this"
                    | "a"
                    | "an"
                    | "in"
                    | "once"
                    | "then"
            )
            && b == "so";
        if (with_comma || bare_so) && i + 1 < toks.len() {
            toks.remove(i);
            continue;
        }
        i += 1;
    }
}

/// ", right?" and ", you know?" closing a statement make it read as a question: the statement
/// ends with a full stop instead.
fn drop_tag_questions(toks: &mut Vec<Token>) {
    let mut i = 1;
    while i < toks.len() {
        let t = &toks[i];
        if t.ends_with('?')
            && matches!(bare(t).as_str(), "right" | "yeah" | "no" | "huh" | "okay")
            && toks[i - 1].ends_with(',')
        {
            let prev = &mut toks[i - 1];
            prev.pop();
            prev.push('.');
            toks.remove(i);
            continue;
        }
        i += 1;
    }
}

/// A pause written inside the passage ("…as dramatic... You can still…") is a sentence's end
/// before a capital and nothing before a lowercase word ("going to... go" → "going to go").
fn close_pauses(toks: &mut [Token]) {
    let n = toks.len();
    for i in 0..n.saturating_sub(1) {
        let t = &toks[i];
        let Some(stem) = t.strip_suffix("...").or_else(|| t.strip_suffix('…')) else {
            continue;
        };
        if stem.is_empty() {
            continue;
        }
        let next_capital = toks[i + 1]
            .chars()
            .find(|c| c.is_alphanumeric())
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        let stem = stem.trim_end_matches([',', '.']).to_string();
        toks[i] = if next_capital {
            format!("{stem}.")
        } else {
            stem
        };
    }
}

/// Drops a straight double quote left without its partner (a quotation cut by the passage's
/// edge or by a sentence break), so no quotation dangles open.
fn balance_quotes(text: &str) -> String {
    if text.matches('"').count().is_multiple_of(2) {
        return text.to_string();
    }
    // The unpaired one is the last: a quotation opened and never closed, or closed after the
    // passage began inside it (then it is the only one).
    match text.rfind('"') {
        Some(p) => {
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..p]);
            out.push_str(&text[p + 1..]);
            out.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        None => text.to_string(),
    }
}

/// Joins tokens, tidying punctuation left by removals (" ,", ",,", a leading comma).
fn join(toks: &[Token]) -> String {
    let mut s = toks.join(" ");
    for (from, to) in [
        (" ,", ","),
        (",,", ","),
        (",.", "."),
        (" .", "."),
        ("  ", " "),
    ] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s.trim_start_matches([',', ' ', ';', ':'])
        .trim()
        .to_string()
}

/// Capitalises the first letter and every letter after a sentence's end, and the pronoun "I".
pub fn sentence_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut capital_next = true;
    let toks: Vec<&str> = text.split(' ').collect();
    for (k, t) in toks.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        let b = bare(t);
        let pronoun = b == "i" || b.starts_with("i'") && b.len() <= 4;
        let mut done = false;
        for c in t.chars() {
            if !done && c.is_alphabetic() {
                if capital_next || (pronoun && c == 'i') {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                done = true;
                continue;
            }
            if !done && c.is_numeric() {
                done = true;
            }
            out.push(c);
        }
        capital_next = ends_sentence(t);
    }
    out
}

/// Whether the passage stops before its thought is complete: it ends on a dash, trails off
/// ("…logic to..."), or ends on a word that needs more after it ("the", "to", "because").
/// An unpunctuated transcript's passage is judged by its last word alone.
pub fn ends_mid_thought(text: &str) -> bool {
    let t = text.trim_end();
    let Some(last) = t.split_whitespace().last() else {
        return true;
    };
    if is_dash(last) || last.ends_with('-') || last.ends_with('—') || last.ends_with(',') {
        return true;
    }
    let b = bare(last);
    if DANGLING.contains(&b.as_str()) {
        return true;
    }
    let punctuated = t.contains(['.', '!', '?', ',']);
    if punctuated && !ends_sentence(last) && !last.ends_with(['"', '”', ')']) {
        return true;
    }
    // Trailing off after a content word reads as a pause, not an unfinished thought.
    false
}

/// Ends a passage whose last sentence trails off after a complete thought with a full stop
/// ("…insanely fast..." → "…insanely fast."), and an unpunctuated one with a full stop too.
pub fn close_sentence(text: &str) -> String {
    let t = text.trim_end();
    if let Some(s) = t.strip_suffix("...").or_else(|| t.strip_suffix('…')) {
        return format!("{}.", s.trim_end_matches(['.', ' ']));
    }
    if t.is_empty() || ends_sentence(t) || t.ends_with(['"', '”', ')']) {
        return t.to_string();
    }
    format!("{}.", t.trim_end_matches([',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_starts_go_with_their_fragment() {
        assert_eq!(
            clean(
                "If the average function in your code -- if more than one 15th of your functions are long, refactor."
            ),
            "If more than one 15th of your functions are long, refactor."
        );
        assert_eq!(
            clean("With Kilo, we pride ourselves on -- you can use over 500 different models."),
            "With Kilo, you can use over 500 different models."
        );
        assert_eq!(
            clean(
                "I stepped down as exec chair last year -- or stepped down as CEO, and now became an exec chair."
            ),
            "I stepped down as CEO, and now became an exec chair."
        );
        assert_eq!(
            clean(
                "If we can dock at a different location, nearby the delivery site - yeah, we can do more than 10 miles."
            ),
            "If we can dock at a different location, we can do more than 10 miles."
        );
    }

    #[test]
    fn an_abandoned_last_sentence_goes_and_asides_stay() {
        assert_eq!(
            clean("We took it public in six years. And we were very fortunate to--"),
            "We took it public in six years."
        );
        assert_eq!(
            clean("The drone - a fixed-wing aircraft - flies 100 miles."),
            "The drone — a fixed-wing aircraft — flies 100 miles."
        );
    }

    #[test]
    fn repeated_words_and_phrases_are_said_once() {
        assert_eq!(
            clean("I think I think you and I, in this in this 10 episode series, agree."),
            "I think you and I, in this 10 episode series, agree."
        );
        assert_eq!(
            clean("It is a it is a real gray area."),
            "It is a real gray area."
        );
        assert_eq!(
            clean("The, the grid needs storage."),
            "The grid needs storage."
        );
        assert_eq!(clean("The sys- the system failed."), "The system failed.");
        assert_eq!(clean("He had had enough."), "He had had enough.");
    }

    #[test]
    fn fillers_that_carry_no_meaning_go() {
        assert_eq!(
            clean("um, the grid needs, uh, storage."),
            "The grid needs, storage."
        );
        assert_eq!(
            clean("It's, you know, kind of cheaper than gas, I mean, by a lot."),
            "It's, cheaper than gas, by a lot."
        );
        assert_eq!(
            clean("The winds get up to like 70 miles an hour."),
            "The winds get up to 70 miles an hour."
        );
        assert_eq!(
            clean("A kind of battery that you know the answer to."),
            "A kind of battery that you know the answer to."
        );
        assert_eq!(
            clean("It costs 20 dollars or something like that."),
            "It costs 20 dollars."
        );
    }

    #[test]
    fn a_sentence_abandoned_inside_the_passage_goes() {
        assert_eq!(
            clean(
                "Drones fly backwards, developing the logic to... Because most winds are gusty, you can punch through. And then, yeah, it works."
            ),
            "Because most winds are gusty, you can punch through. And then, it works."
        );
    }

    #[test]
    fn pauses_and_dangling_quotes_are_tidied() {
        assert_eq!(
            clean("The spike won't be as dramatic... You can still get the benefits... of it."),
            "The spike won't be as dramatic. You can still get the benefits of it."
        );
        assert_eq!(
            clean("He said \"I totally didn't understand your response."),
            "He said I totally didn't understand your response."
        );
        assert_eq!(clean("She said \"no\" twice."), "She said \"no\" twice.");
    }

    #[test]
    fn backchannel_goes() {
        assert_eq!(
            clean("Yep. Strokes are brain Yep. And then heart attack is related to blood flow."),
            "Strokes are brain. And then heart attack is related to blood flow."
        );
        assert_eq!(clean("Mm-hmm. Right. Solar is cheap."), "Solar is cheap.");
    }

    #[test]
    fn sentence_case_is_repaired() {
        assert_eq!(
            clean("solar got cheap. i think wind will too. prices fell."),
            "Solar got cheap. I think wind will too. Prices fell."
        );
        assert_eq!(
            clean("Yeah, so we shipped it in 2019, right?"),
            "We shipped it in 2019."
        );
    }

    #[test]
    fn endings_mid_thought_are_seen() {
        assert!(ends_mid_thought(
            "And you'll see our drones flying backwards, developing the control system and logic to..."
        ));
        assert!(ends_mid_thought("We were very fortunate to--"));
        assert!(ends_mid_thought("The reason is that the"));
        assert!(!ends_mid_thought("They're insanely fast..."));
        assert!(!ends_mid_thought("Flying on a wing gives 10x more range."));
        assert_eq!(
            close_sentence("They're insanely fast..."),
            "They're insanely fast."
        );
    }
}
