//! Every transcript format reads into the same speaker turns.

use podbrief::ingest::transcript::{Format, Transcript};

use crate::support::fixtures;

#[test]
fn each_format_yields_the_same_turns_for_the_same_talk() {
    let read = |name: &str| {
        let bytes = std::fs::read(fixtures().join("formats").join(name)).unwrap();
        Transcript::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let reference = read("talk.vtt");
    assert_eq!(reference.format, Format::Vtt);
    let ref_turns = reference.turns();
    assert_eq!(ref_turns.len(), 8);
    assert!(
        ref_turns[1]
            .text
            .contains("Pentland Firth produced 50 gigawatt hours")
    );
    for (name, format, timed) in [
        ("talk.srt", Format::Srt, true),
        ("talk.json", Format::Json, true),
        ("talk.html", Format::Html, true),
        ("talk.md", Format::Markdown, false),
        ("talk.txt", Format::Text, false),
    ] {
        let t = read(name);
        assert_eq!(t.format, format, "{name} sniffed as {:?}", t.format);
        let turns = t.turns();
        assert_eq!(turns.len(), ref_turns.len(), "{name}");
        for (a, b) in turns.iter().zip(&ref_turns) {
            assert_eq!(a.speaker, b.speaker, "{name}");
            assert_eq!(a.text, b.text, "{name}");
            if timed {
                let (x, y) = (a.start_ms.unwrap(), b.start_ms.unwrap());
                // HTML transcripts give whole seconds.
                assert!((x - y).abs() < 1000, "{name}: {x} vs {y}");
            } else {
                assert_eq!(a.start_ms, None);
            }
        }
    }
}

#[test]
fn a_transcript_is_sniffed_whatever_its_declared_type() {
    // The SRT fixture, read as bytes with no type at all, is still SRT.
    let bytes =
        std::fs::read(fixtures().join("feeds/transcripts/orchard-01-apple-breeding.srt")).unwrap();
    assert_eq!(Transcript::parse(&bytes).unwrap().format, Format::Srt);
}
