//! Optional speech-to-text for episodes with no transcript: the enclosure is downloaded with the
//! feed fetcher (size cap, redirects) and sent to an OpenAI-compatible
//! `POST {base_url}/v1/audio/transcriptions` (whisper.cpp server, faster-whisper servers, OpenAI).
//!
//! - Off unless `stt.base_url` is set. The API key comes from the environment and is sent only
//!   as a bearer token; error bodies quoted in logs have it removed.
//! - Audio must be an http(s) URL on a public address (unless `stt.allow_private`), or a path
//!   that a local feed's relative enclosure resolved to; `file:` URLs from feeds are refused.
//! - Audio over `stt.max_audio_mb` is refused before it is sent; the megabytes sent count
//!   against `stt.daily_budget_mb` per UTC day, kept in `stt.dir` so a restart does not reset
//!   it. A request that fails is given back.
//! - The answer (verbose JSON segments, VTT, SRT or text) is read by the transcript parsers,
//!   saved in `stt.dir` as the episode's transcript and recorded on the episode with
//!   `transcript_kind = "speech-to-text"`, so processing it again costs no new request.
//! - Any failure is logged and the episode falls back to its show notes: speech-to-text never
//!   fails an ingest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tracing::{info, warn};

use super::budget::DailyBudget;
use super::fetch::{Fetched, Validators, fetch};
use super::transcript::{Format, Segment, Transcript, TranscriptError};
use super::{IngestError, Ingestor, Location};
use crate::config::{Config, Secret};
use crate::core::clock::Clock;
use crate::core::model::Episode;

/// `transcript_kind` of an episode whose transcript came from speech-to-text.
pub const SPEECH_TO_TEXT: &str = "speech-to-text";

/// Largest answer read from the endpoint.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// How speech-to-text is reached and limited.
#[derive(Debug, Clone)]
pub struct SttSettings {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// The API key, sent as a bearer token when present.
    pub api_key: Option<Secret>,
    /// `verbose_json`, `vtt`, `srt`, `json` or `text`.
    pub response_format: String,
    /// Largest audio file sent, in bytes.
    pub max_audio_bytes: u64,
    /// Bytes of audio a UTC day may send (0 = no limit).
    pub daily_budget_bytes: u64,
    /// Timeout of the download and of the request, each.
    pub timeout: Duration,
    /// Whether audio may come from non-public addresses.
    pub allow_private: bool,
    /// Where transcriptions and the budget are kept; `None` keeps them in memory.
    pub dir: Option<PathBuf>,
}

impl SttSettings {
    /// The settings of `config.stt`, or `None` when speech-to-text is off.
    pub fn from_config(config: &Config) -> Option<SttSettings> {
        let s = &config.stt;
        if s.base_url.trim().is_empty() {
            return None;
        }
        let dir = s.dir.trim();
        let dir = (!dir.is_empty()).then(|| {
            let d = if Path::new(dir).is_absolute() {
                PathBuf::from(dir)
            } else {
                config.base_dir.join(dir)
            };
            std::path::absolute(&d).unwrap_or(d)
        });
        const MB: u64 = 1024 * 1024;
        Some(SttSettings {
            base_url: s.base_url.trim().to_string(),
            model: s.model.trim().to_string(),
            api_key: config.secret(&s.api_key_env),
            response_format: s.response_format.clone(),
            max_audio_bytes: s.max_audio_mb.saturating_mul(MB),
            daily_budget_bytes: s.daily_budget_mb.saturating_mul(MB),
            timeout: s.timeout.get(),
            allow_private: s.allow_private,
            dir,
        })
    }
}

/// Why an episode was not transcribed.
#[derive(Debug, thiserror::Error)]
pub enum SttError {
    /// The episode has no enclosure.
    #[error("the episode has no audio enclosure")]
    NoAudio,
    /// The enclosure may not be fetched.
    #[error("refusing audio {0}: only http(s) enclosures (or a local feed's own files) are read")]
    Forbidden(String),
    /// The enclosure points inside the network.
    #[error(
        "refusing audio {url}: it points at a private, loopback or link-local address ({ip}); set stt.allow_private to allow it"
    )]
    Private {
        /// The enclosure.
        url: String,
        /// The address it resolves to.
        ip: std::net::IpAddr,
    },
    /// The audio is over the size cap.
    #[error("audio {url} is larger than the {limit_mb} MB limit (stt.max_audio_mb)")]
    TooLarge {
        /// The enclosure.
        url: String,
        /// The limit.
        limit_mb: u64,
    },
    /// Today's budget is spent, or this file would overrun it.
    #[error(
        "the daily speech-to-text budget is spent ({used_mb:.1} of {limit_mb} MB used today, stt.daily_budget_mb); this file is {file_mb:.1} MB"
    )]
    Budget {
        /// The daily limit.
        limit_mb: u64,
        /// Used today.
        used_mb: f64,
        /// The file's size (0 when not downloaded).
        file_mb: f64,
    },
    /// The audio could not be downloaded.
    #[error("cannot download the audio: {0}")]
    Download(IngestError),
    /// The request failed (connection, timeout).
    #[error("the speech-to-text request failed: {0}")]
    Http(String),
    /// The endpoint answered with an error status.
    #[error("the speech-to-text endpoint answered HTTP {status}: {detail}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the answer, with the API key removed.
        detail: String,
    },
    /// The answer is not a transcript.
    #[error("the speech-to-text answer is unusable: {0}")]
    Answer(TranscriptError),
}

/// A transcription.
#[derive(Debug, Clone)]
pub struct Transcribed {
    /// The parsed transcript.
    pub transcript: Transcript,
    /// Where it was saved, if `stt.dir` is set.
    pub saved: Option<PathBuf>,
    /// Whether it was read from an earlier transcription instead of a new request.
    pub reused: bool,
}

/// The speech-to-text client: settings, HTTP clients, the daily budget.
pub struct SpeechToText {
    settings: SttSettings,
    endpoint: String,
    client: reqwest::Client,
    download: reqwest::Client,
    budget: DailyBudget,
    clock: Arc<dyn Clock>,
    /// One transcription at a time (local servers work one file at a time).
    one_at_a_time: tokio::sync::Semaphore,
}

impl std::fmt::Debug for SpeechToText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechToText")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SpeechToText {
    /// A client for `settings`, counting days on `clock`.
    pub fn new(settings: SttSettings, clock: Arc<dyn Clock>) -> Result<SpeechToText, SttError> {
        let build = |redirects| {
            reqwest::Client::builder()
                .user_agent(concat!("podbrief/", env!("CARGO_PKG_VERSION")))
                .timeout(settings.timeout)
                .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                .redirect(redirects)
                .build()
                .map_err(|e| SttError::Http(e.without_url().to_string()))
        };
        let client = build(reqwest::redirect::Policy::limited(5))?;
        // The fetcher follows redirects itself.
        let download = build(reqwest::redirect::Policy::none())?;
        let budget = DailyBudget::open(
            settings.daily_budget_bytes,
            settings.dir.as_ref().map(|d| d.join("usage.json")),
        );
        Ok(SpeechToText {
            endpoint: endpoint_url(&settings.base_url),
            settings,
            client,
            download,
            budget,
            clock,
            one_at_a_time: tokio::sync::Semaphore::new(1),
        })
    }

    /// The client for `config.stt`, or `None` when speech-to-text is off.
    pub fn from_config(
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<SpeechToText>, SttError> {
        SttSettings::from_config(config)
            .map(|s| SpeechToText::new(s, clock))
            .transpose()
    }

    /// Bytes of audio sent today.
    pub fn bytes_used_today(&self) -> u64 {
        self.budget.used(self.clock.now().date_naive())
    }

    /// Transcribes `ep`'s enclosure (or reads the transcription saved for it earlier).
    pub async fn transcribe(&self, ep: &Episode) -> Result<Transcribed, SttError> {
        if let Some(saved) = self.saved(ep) {
            return Ok(saved);
        }
        let audio = ep.meta.audio_url.as_deref().ok_or(SttError::NoAudio)?;
        let loc = self.audio_location(audio).await?;
        let today = self.clock.now().date_naive();
        if !self.budget.has_room(today) {
            return Err(self.budget_error(today, 0));
        }
        let bytes = match fetch(
            &self.download,
            &loc,
            "audio",
            self.settings.max_audio_bytes,
            &Validators::default(),
        )
        .await
        {
            Ok(Fetched::Body { bytes, .. }) => bytes,
            Ok(Fetched::NotModified) => {
                return Err(SttError::Http(
                    "HTTP 304 without a conditional request".into(),
                ));
            }
            Err(IngestError::TooLarge { .. }) => {
                return Err(SttError::TooLarge {
                    url: loc.display(),
                    limit_mb: self.settings.max_audio_bytes / 1024 / 1024,
                });
            }
            Err(e) => return Err(SttError::Download(e)),
        };
        let size = bytes.len() as u64;
        if self.budget.spend(today, size).is_err() {
            return Err(self.budget_error(today, size));
        }
        let answer = {
            let _turn = self.one_at_a_time.acquire().await;
            self.request(bytes, &file_name(&loc)).await
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                // Not served: it does not count.
                self.budget.refund(today, size);
                return Err(e);
            }
        };
        let (transcript, document) = parse_answer(&answer).map_err(SttError::Answer)?;
        let saved = self.save(ep, &transcript, &document);
        Ok(Transcribed {
            transcript,
            saved,
            reused: false,
        })
    }

    fn budget_error(&self, today: chrono::NaiveDate, file: u64) -> SttError {
        const MB: f64 = 1024.0 * 1024.0;
        SttError::Budget {
            limit_mb: self.budget.limit() / 1024 / 1024,
            used_mb: self.budget.used(today) as f64 / MB,
            file_mb: file as f64 / MB,
        }
    }

    /// Where the audio is: http(s) on a public address (unless allowed), or a local path.
    async fn audio_location(&self, audio: &str) -> Result<Location, SttError> {
        match url::Url::parse(audio) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                if !self.settings.allow_private {
                    use super::guard::{GuardError, check_chat_url};
                    match check_chat_url(audio, false).await {
                        Ok(()) => {}
                        Err(GuardError::Private(_, ip)) => {
                            return Err(SttError::Private {
                                url: audio.to_string(),
                                ip,
                            });
                        }
                        Err(e) => {
                            return Err(SttError::Download(IngestError::Fetch {
                                url: audio.to_string(),
                                message: e.to_string(),
                                transient: true,
                            }));
                        }
                    }
                }
                Ok(Location::Http(u))
            }
            // Only a local feed's relative enclosure becomes a bare path (remote feeds' ones
            // resolve to http(s) URLs).
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                Ok(Location::File(PathBuf::from(audio)))
            }
            _ => Err(SttError::Forbidden(audio.to_string())),
        }
    }

    /// One transcription request; the answer's bytes.
    async fn request(&self, audio: Vec<u8>, name: &str) -> Result<Vec<u8>, SttError> {
        let part = reqwest::multipart::Part::bytes(audio)
            .file_name(name.to_string())
            .mime_str(audio_mime(name))
            .map_err(|e| SttError::Http(e.without_url().to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.settings.model.clone())
            .text("response_format", self.settings.response_format.clone());
        let mut req = self.client.post(&self.endpoint).multipart(form);
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key.expose());
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| SttError::Http(self.redact(&e.without_url().to_string())))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| SttError::Http(self.redact(&e.without_url().to_string())))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(SttError::Http(format!(
                    "the answer is larger than {} MB",
                    MAX_ANSWER / 1024 / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let detail: String = self.redact(&text).chars().take(300).collect();
            return Err(SttError::Status {
                status: status.as_u16(),
                detail,
            });
        }
        Ok(body)
    }

    /// `text` without the API key.
    fn redact(&self, text: &str) -> String {
        match &self.settings.api_key {
            Some(k) if !k.expose().is_empty() => text.replace(k.expose(), "***"),
            _ => text.to_string(),
        }
    }

    /// The transcription saved for `ep` earlier, if any.
    fn saved(&self, ep: &Episode) -> Option<Transcribed> {
        let dir = self.settings.dir.as_ref()?;
        for ext in ["json", "vtt", "srt", "txt"] {
            let path = dir.join(format!("episode-{}.{ext}", ep.id));
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Ok(transcript) = Transcript::parse(&bytes) {
                return Some(Transcribed {
                    transcript,
                    saved: Some(path),
                    reused: true,
                });
            }
        }
        None
    }

    /// Saves the transcript document for `ep`; `None` (logged) when it cannot be written.
    fn save(&self, ep: &Episode, transcript: &Transcript, document: &[u8]) -> Option<PathBuf> {
        let dir = self.settings.dir.as_ref()?;
        let ext = match transcript.format {
            Format::Json => "json",
            Format::Vtt => "vtt",
            Format::Srt => "srt",
            Format::Html | Format::Markdown | Format::Text => "txt",
        };
        let path = dir.join(format!("episode-{}.{ext}", ep.id));
        let tmp = path.with_extension("tmp");
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&tmp, document))
            .and_then(|()| std::fs::rename(&tmp, &path));
        match written {
            Ok(()) => Some(path),
            Err(e) => {
                warn!(file = %path.display(), error = %e, "cannot save the transcription");
                None
            }
        }
    }
}

impl Ingestor {
    /// Adds speech-to-text for episodes with no transcript.
    pub fn with_stt(mut self, stt: Option<SpeechToText>) -> Ingestor {
        self.stt = stt.map(Arc::new);
        self
    }

    /// The episode's words by speech-to-text, if it is on and works; otherwise `None` (logged)
    /// and the caller uses the show notes.
    pub(super) async fn speech_to_text(&self, ep: &Episode) -> Option<Vec<Segment>> {
        let stt = self.stt.as_ref()?;
        ep.meta.audio_url.as_ref()?;
        let t = match stt.transcribe(ep).await {
            Ok(t) => t,
            Err(e) => {
                warn!(episode = %ep.meta.title, error = %e, "speech-to-text skipped; using the show notes");
                return None;
            }
        };
        info!(
            episode = %ep.meta.title,
            segments = t.transcript.segments.len(),
            reused = t.reused,
            "transcript by speech-to-text"
        );
        if let Some(path) = &t.saved {
            let mut meta = ep.meta.clone();
            meta.transcript_url = Some(path.display().to_string());
            meta.transcript_kind = Some(SPEECH_TO_TEXT.into());
            if let Err(e) = self
                .store
                .upsert_episode(ep.podcast_id, &meta, self.clock.now())
                .await
            {
                warn!(episode = %ep.meta.title, error = %e, "cannot record the speech-to-text transcript");
            }
        }
        Some(t.transcript.segments)
    }
}

/// `POST` address of the endpoint: `/v1/audio/transcriptions` under `base` (`/audio/...` when
/// `base` already ends in `/v1`).
pub fn endpoint_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/audio/transcriptions")
    } else {
        format!("{base}/v1/audio/transcriptions")
    }
}

/// The file name sent: the enclosure's, when it has an audio extension (servers go by it).
fn file_name(loc: &Location) -> String {
    let last = match loc {
        Location::Http(u) => u
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("")
            .to_string(),
        Location::File(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let clean: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if audio_mime(&clean) == "application/octet-stream" {
        "episode.mp3".into()
    } else {
        clean
    }
}

fn audio_mime(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" | "mpga" | "mpeg" => "audio/mpeg",
        "m4a" | "mp4" | "aac" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "webm" => "audio/webm",
        _ => "application/octet-stream",
    }
}

#[derive(Deserialize)]
struct Verbose {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    segments: Option<Vec<VerboseSegment>>,
}

#[derive(Deserialize)]
struct VerboseSegment {
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    speaker: Option<String>,
}

/// Reads an endpoint's answer with the transcript parsers: `verbose_json` segments become a
/// Podcasting 2.0 JSON transcript, `json`'s text is read as text, VTT/SRT/text are sniffed.
/// Returns the transcript and the document to save.
pub fn parse_answer(bytes: &[u8]) -> Result<(Transcript, Vec<u8>), TranscriptError> {
    if let Ok(v) = serde_json::from_slice::<Verbose>(bytes) {
        let segments: Vec<serde_json::Value> = v
            .segments
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| {
                let mut seg = serde_json::json!({
                    "startTime": s.start,
                    "endTime": s.end,
                    "body": s.text.trim(),
                });
                if let Some(name) = s.speaker.filter(|n| !n.trim().is_empty()) {
                    seg["speaker"] = serde_json::Value::String(name);
                }
                seg
            })
            .collect();
        if !segments.is_empty() {
            let doc = serde_json::json!({"version": "1.0.0", "segments": segments});
            let doc = serde_json::to_vec_pretty(&doc)
                .map_err(|e| TranscriptError::Json(e.to_string()))?;
            return Transcript::parse(&doc).map(|t| (t, doc));
        }
        return match v.text.filter(|t| !t.trim().is_empty()) {
            Some(text) => {
                let doc = text.into_bytes();
                Transcript::parse(&doc).map(|t| (t, doc))
            }
            None => Err(TranscriptError::Empty("json")),
        };
    }
    Transcript::parse(bytes).map(|t| (t, bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_json_becomes_timed_segments() {
        let answer = br#"{"task":"transcribe","language":"english","duration":9.5,
            "text":" Hello there. Tides rise twice a day.",
            "segments":[
              {"id":0,"seek":0,"start":0.0,"end":2.5,"text":" Hello there.","tokens":[1,2]},
              {"id":1,"seek":0,"start":2.5,"end":9.5,"text":" Tides &amp; currents rise twice a day."},
              {"id":2,"start":9.5,"end":9.6,"text":"  "}
            ]}"#;
        let (t, doc) = parse_answer(answer).unwrap();
        assert_eq!(t.format, Format::Json);
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[1].start_ms, Some(2500));
        assert_eq!(t.segments[1].end_ms, Some(9500));
        assert_eq!(t.segments[1].text, "Tides & currents rise twice a day.");
        // The saved document reads back the same.
        assert_eq!(Transcript::parse(&doc).unwrap(), t);
    }

    #[test]
    fn other_formats_are_sniffed() {
        let vtt = b"WEBVTT\n\n00:01.000 --> 00:04.000\nThe harbour opened in 1890.\n";
        let (t, _) = parse_answer(vtt).unwrap();
        assert_eq!(
            (t.format, t.segments[0].start_ms),
            (Format::Vtt, Some(1000))
        );
        let (t, _) = parse_answer(br#"{"text": "Just the words, no times."}"#).unwrap();
        assert_eq!(t.segments[0].text, "Just the words, no times.");
        assert_eq!(t.segments[0].start_ms, None);
        assert!(parse_answer(br#"{"text": ""}"#).is_err());
        assert!(parse_answer(b"").is_err());
        assert!(parse_answer(&[0xff, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn the_endpoint_and_file_names() {
        assert_eq!(
            endpoint_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/v1/audio/transcriptions"
        );
        assert_eq!(
            endpoint_url("https://api.openai.com/v1"),
            "https://api.openai.com/v1/audio/transcriptions"
        );
        let loc = Location::parse("https://cdn.example.com/a/ep%201.m4a?x=1");
        assert_eq!(file_name(&loc), "ep201.m4a");
        assert_eq!(audio_mime("ep201.m4a"), "audio/mp4");
        let loc = Location::parse("https://cdn.example.com/stream?id=5");
        assert_eq!(file_name(&loc), "episode.mp3");
    }
}
