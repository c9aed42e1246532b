//! `podbrief check-transcripts`: reads transcript files the way ingest does and reports, per
//! file, the format found, the segments, the words and the insights extracted. A file that
//! yields no text, or that makes the parser or the extractor panic, fails the check.

use std::path::{Path, PathBuf};

use crate::extract::{EpisodeText, ExtractiveEngine};
use crate::ingest::transcript::Transcript;

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// One file's result.
fn check_one(path: &Path, engine: &ExtractiveEngine) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let parsed = std::panic::catch_unwind(|| Transcript::parse(&bytes))
        .map_err(|_| "the parser panicked".to_string())?;
    let t = parsed.map_err(|e| e.to_string())?;
    let words: usize = t
        .segments
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .sum();
    let timed = t.segments.iter().filter(|s| s.start_ms.is_some()).count();
    let episode = EpisodeText {
        podcast: String::new(),
        title: path.display().to_string(),
        segments: t.segments.clone(),
    };
    let insights = std::panic::catch_unwind(|| engine.extract_sync(&episode))
        .map_err(|_| "the extractor panicked".to_string())?;
    Ok(format!(
        "{:<8} {:>6} segments ({timed} timed) {:>7} words {:>3} insights",
        t.format.name(),
        t.segments.len(),
        words,
        insights.len()
    ))
}

/// Checks every file under `paths`; an error lists the files that failed.
pub fn check_transcripts(paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", p.display()))?;
    }
    // Keep panic messages out of the report; the failure is reported per file below.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let engine = ExtractiveEngine::default();
    let mut failed = Vec::new();
    for f in &files {
        match check_one(f, &engine) {
            Ok(line) => println!("ok    {line}  {}", f.display()),
            Err(e) => {
                println!("FAIL  {}: {e}", f.display());
                failed.push(f.display().to_string());
            }
        }
    }
    std::panic::set_hook(hook);
    println!("{} files, {} failed", files.len(), failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} transcript(s) failed: {}",
            failed.len(),
            failed.join(", ")
        )
    }
}
