//! Bad input never panics: a short, bounded, deterministic fuzz of the feed, transcript and OPML
//! parsers and the extractor, mutating fixtures written for these tests (truncations, byte
//! flips, inserted markup and multi-byte characters).

use podbrief::extract::{EpisodeText, ExtractiveEngine};
use podbrief::ingest::feed::parse_feed;
use podbrief::ingest::opml::parse_opml;
use podbrief::ingest::transcript::Transcript;

use crate::support::fixtures;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INSERTS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b"&amp",
    b"-->",
    b"\n\n",
    b"**",
    b":",
    b"<v ",
    b"</p>",
    b"\xe2\x80\x99",
    b"\xf0\x9f\x8c\x8a",
    b"\xff\xfe",
    b"\0",
    b"00:00:01.000 --> ",
    b"<![CDATA[",
    b"]]>",
    b"{",
    b"}",
    b"\"",
    b"WEBVTT",
    b"<cite>",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(6) {
        match rng.below(4) {
            0 if !v.is_empty() => v.truncate(rng.below(v.len())),
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let ins = INSERTS[rng.below(INSERTS.len())];
                v.splice(i..i, ins.iter().copied());
            }
            _ if v.len() > 2 => {
                let a = rng.below(v.len());
                let b = (a + rng.below(200)).min(v.len());
                v.drain(a..b);
            }
            _ => {}
        }
    }
    v
}

fn corpus(dir: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(fixtures().join(dir)).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push(std::fs::read(p).unwrap());
        }
    }
    out
}

#[test]
fn mutated_transcripts_never_panic_the_parser_or_the_extractor() {
    let mut rng = Rng(0x5eed_1234);
    let mut seeds = corpus("formats");
    seeds.extend(corpus("feeds/transcripts"));
    let engine = ExtractiveEngine::default();
    for i in 0..1500 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        if let Ok(t) = Transcript::parse(&input) {
            let _ = t.turns();
            if i % 10 == 0 {
                let ep = EpisodeText {
                    podcast: "P".into(),
                    title: "E".into(),
                    segments: t.segments,
                    marks: Default::default(),
                    notes: None,
                };
                for insight in engine.extract_sync(&ep) {
                    assert!(!insight.text.is_empty());
                }
            }
        }
    }
}

#[test]
fn mutated_feeds_and_opml_never_panic() {
    let mut rng = Rng(0xfeed_5678);
    let seeds: Vec<Vec<u8>> = corpus("feeds");
    let opml = b"<?xml version=\"1.0\"?><opml version=\"2.0\"><body><outline text=\"A\" xmlUrl=\"https://a.example/f\"/><outline text=\"T\"><outline xmlUrl=\"https://b.example/f?x=1&amp;y=2\"/></outline></body></opml>".to_vec();
    for i in 0..1500 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        let _ = parse_feed(&input, "fuzz");
        let _ = parse_opml(&mutate(&mut rng, &opml));
    }
}
