//! The test harness: a whole podbrief on a temporary SQLite database, a manual clock, and a feed
//! server on 127.0.0.1 serving fixtures written for these tests.

pub mod pg;
pub use pg::{PgDatabase, postgres_server};
pub mod telegram;

pub mod discord;
pub mod embeddings;
pub mod llm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use podbrief::adapters::console::console_chat;
use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::UserContext;
use podbrief::core::clock::ManualClock;
use podbrief::core::command::ParseContext;
use podbrief::core::model::Reply;
use podbrief::ingest::IngestReport;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Log lines of the whole test run (every test shares one global subscriber).
static LOGS: std::sync::LazyLock<Arc<Mutex<Vec<u8>>>> = std::sync::LazyLock::new(|| {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = CaptureWriter(buf.clone());
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,h2=info,rustls=info,tantivy=info,sqlx=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();
    buf
});

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line written so far by any test.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// The instant every test starts at.
pub const START: &str = "2026-11-27T06:00:00Z";

/// Test fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A feed server on 127.0.0.1 serving `tests/fixtures/feeds/`, counting requests per path.
/// Besides the files it serves: `moved.xml` (a 301 to `tides.xml`), `huge.xml` (a 50 MB stream
/// with no Content-Length), documents set by the test (`set`), and ETags set by the test
/// (`set_etag`), answering 304 to a matching `If-None-Match`.
pub struct FeedServer {
    pub base: String,
    pub hits: Arc<Mutex<HashMap<String, usize>>>,
    state: ServerState,
}

#[derive(Clone)]
struct ServerState {
    root: PathBuf,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    not_modified: Arc<Mutex<HashMap<String, usize>>>,
    overrides: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    etags: Arc<Mutex<HashMap<String, String>>>,
    fail_once: Arc<Mutex<HashMap<String, u16>>>,
}

async fn serve_file(
    State(s): State<ServerState>,
    Path(path): Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if path.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if let Some(code) = s.fail_once.lock().unwrap().remove(&path) {
        return StatusCode::from_u16(code).unwrap().into_response();
    }
    if path == "moved.xml" {
        return (StatusCode::MOVED_PERMANENTLY, [("location", "/tides.xml")]).into_response();
    }
    if path == "huge.xml" {
        let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
        let stream =
            futures::stream::iter((0..50).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        return axum::body::Body::from_stream(stream).into_response();
    }
    let etag = s.etags.lock().unwrap().get(&path).cloned();
    if let Some(tag) = &etag
        && headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(tag.as_str())
    {
        *s.not_modified.lock().unwrap().entry(path).or_default() += 1;
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = match s.overrides.lock().unwrap().get(&path).cloned() {
        Some(b) => Ok(b),
        None => std::fs::read(s.root.join(&path)),
    };
    match (body, etag) {
        (Ok(body), Some(tag)) => (StatusCode::OK, [("etag", tag)], body).into_response(),
        (Ok(body), None) => (StatusCode::OK, body).into_response(),
        (Err(_), _) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let state = ServerState {
            root: fixtures().join("feeds"),
            hits: hits.clone(),
            not_modified: Arc::default(),
            overrides: Arc::default(),
            etags: Arc::default(),
            fail_once: Arc::default(),
        };
        let app = Router::new()
            .route("/{*path}", axum::routing::get(serve_file))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FeedServer {
            base: format!("http://{addr}"),
            hits,
            state,
        }
    }

    /// Serves `body` at `path` from now on.
    pub fn set(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.state
            .overrides
            .lock()
            .unwrap()
            .insert(path.into(), body.into());
    }

    /// Gives `path` an ETag (answering 304 when a request carries it).
    pub fn set_etag(&self, path: &str, etag: &str) {
        self.state
            .etags
            .lock()
            .unwrap()
            .insert(path.into(), etag.into());
    }

    /// Answers the next request for `path` with `status` (then serves it as usual).
    pub fn fail_once(&self, path: &str, status: u16) {
        self.state
            .fail_once
            .lock()
            .unwrap()
            .insert(path.into(), status);
    }

    /// How many requests for `path` were answered 304.
    pub fn not_modified(&self, path: &str) -> usize {
        self.state
            .not_modified
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A running podbrief for one test.
pub struct TestApp {
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub feeds: FeedServer,
    /// The config without the test's extra sections, for [`TestApp::reconfigured`].
    base_toml: String,
    /// Holds the database; removed when the test ends.
    _dir: tempfile::TempDir,
    /// The test's PostgreSQL database (with `PODBRIEF_TEST_DATABASE_URL`), dropped at the end.
    _pg: Option<PgDatabase>,
}

/// Options for [`TestApp::spawn_with`].
pub struct Options {
    /// Feed paths on the feed server.
    pub feeds: Vec<&'static str>,
    /// Extra TOML appended to the config (sections that the base config does not have).
    pub extra: String,
    /// Secrets by environment-variable name, given to the app without touching the environment.
    pub secrets: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            feeds: vec!["tides.xml", "orchard.xml"],
            extra: String::new(),
            secrets: Vec::new(),
        }
    }
}

impl TestApp {
    /// An app reading the two fixture feeds over HTTP, not yet ingested.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        std::sync::LazyLock::force(&LOGS);
        let feeds = FeedServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let feed_list: Vec<String> = opts
            .feeds
            .iter()
            .map(|f| format!("{:?}", feeds.url(f)))
            .collect();
        let pg = match postgres_server() {
            Some(server) => Some(PgDatabase::create(&server).await),
            None => None,
        };
        let db_url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.path().join("test.db").display()),
        };
        let base_toml = format!(
            "[database]\nurl = \"{}\"\n[ingest]\nfeeds = [{}]\n[brief]\nlookback = \"30d\"\nsize = 3\n",
            db_url,
            feed_list.join(", "),
        );
        let toml = format!("{base_toml}{}", opts.extra);
        let mut config = Config::from_toml(
            &toml,
            std::path::Path::new("test.toml"),
            dir.path().to_path_buf(),
        )
        .expect("test config is valid");
        for (k, v) in opts.secrets {
            config.secret_overrides.insert(k.to_string(), v);
        }
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        let app = App::build(config, clock.clone()).await.expect("app builds");
        TestApp {
            app: Arc::new(app),
            clock,
            feeds,
            base_toml,
            _dir: dir,
            _pg: pg,
        }
    }

    /// A second app on the same database and feeds with other extra sections (an upgrade, a
    /// config change), on the same clock.
    pub async fn reconfigured(&self, extra: &str) -> App {
        let config = Config::from_toml(
            &format!("{}{extra}", self.base_toml),
            std::path::Path::new("test.toml"),
            self._dir.path().to_path_buf(),
        )
        .expect("test config is valid");
        App::build(config, self.clock.clone())
            .await
            .expect("app builds")
    }

    /// An app with the fixture feeds already ingested.
    pub async fn ingested() -> TestApp {
        let t = TestApp::spawn().await;
        let r = t.ingest().await;
        assert!(
            r.feed_errors.is_empty() && r.episode_errors.is_empty(),
            "{r:?}"
        );
        t
    }

    pub async fn ingest(&self) -> IngestReport {
        self.app.ingest(false).await
    }

    /// What the bot answers the console chat's `text`.
    pub async fn say(&self, text: &str) -> Reply {
        let ctx = UserContext {
            chat: console_chat(),
            user_id: Some("tester".into()),
            can_manage: true,
            scope_id: None,
        };
        let parse = ParseContext {
            bot_username: None,
            plain_text_is_lookup: true,
        };
        self.app
            .core
            .handle_text(&ctx, text, parse)
            .await
            .expect("the console answers every message")
    }

    /// The console chat's next brief, as its subscription would get it now.
    pub async fn console_brief(&self) -> Reply {
        let sub = self
            .app
            .store
            .subscription(&console_chat())
            .await
            .unwrap()
            .expect("the console chat is subscribed");
        let (reply, _) = podbrief::deliver::compose::brief(&self.app.core, &sub)
            .await
            .unwrap()
            .expect("a brief");
        reply
    }

    /// Starts the platforms, the HTTP server and the scheduler, as `podbrief run` does.
    pub async fn start(&self) -> podbrief::app::Running {
        self.app.start(None).await.expect("the app starts")
    }

    /// Opens the console chat (with its brief timer) on in-memory pipes.
    pub fn open_console(&self) -> ConsoleSession {
        let (input, theirs_in) = tokio::io::duplex(1 << 16);
        let (theirs_out, mut output) = tokio::io::duplex(1 << 20);
        let app = self.app.clone();
        let task = tokio::spawn(async move {
            app.run_console(tokio::io::BufReader::new(theirs_in), theirs_out)
                .await
                .unwrap();
        });
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = output.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        ConsoleSession { input, seen, task }
    }
}

/// A console chat in progress.
pub struct ConsoleSession {
    input: DuplexStream,
    seen: Arc<Mutex<String>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl ConsoleSession {
    pub async fn type_line(&mut self, line: &str) {
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until the output satisfies `pred`; fails (with the output) if it never does.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..1000 {
            let out = self.output();
            if pred(&out) {
                return out;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "console never showed {what}; it printed:\n{}",
            self.output()
        );
    }
}

/// An instant written as RFC 3339.
pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// Waits until `check` holds; fails (naming `what`) if it never does within a minute.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..6000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

/// The Telegram chat `id`.
pub fn telegram_chat(id: i64) -> podbrief::core::model::ChatRef {
    podbrief::core::model::ChatRef {
        platform: podbrief::core::model::Platform::Telegram,
        chat_id: id.to_string(),
        thread_id: None,
    }
}

/// Subscribes Telegram chats `ids` to a daily 08:00 UTC brief of 3, next due at `next_run_at`.
pub async fn subscribe_telegram_chats(
    store: &dyn podbrief::store::Store,
    ids: impl Iterator<Item = i64>,
    next_run_at: chrono::DateTime<chrono::Utc>,
) {
    for id in ids {
        store
            .upsert_subscription(&daily(telegram_chat(id), next_run_at))
            .await
            .unwrap();
    }
}

/// A subscription of `chat` to a daily 08:00 UTC brief of 3 insights, next due at `next_run_at`
/// (change fields with `NewSubscription { field, ..daily(chat, at) }`).
pub fn daily(
    chat: podbrief::core::model::ChatRef,
    next_run_at: chrono::DateTime<chrono::Utc>,
) -> podbrief::store::NewSubscription {
    podbrief::store::NewSubscription {
        chat,
        schedule: "08:00".into(),
        timezone: "UTC".into(),
        size: 3,
        topics: vec![],
        next_run_at,
        created_by: None,
        scope_id: None,
    }
}

/// `podbrief run` as a real process (the fake Telegram's and Discord's tokens in its environment).
pub struct BotProcess(std::process::Child);

impl BotProcess {
    pub fn start(config: &std::path::Path) -> BotProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .env("TELEGRAM_BOT_TOKEN", telegram::TOKEN)
            .env("DISCORD_TOKEN", discord::TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("podbrief starts");
        BotProcess(child)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, as systemd stops a service; waits (at most 30 s) for the process to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        for _ in 0..3000 {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("podbrief did not exit within 30 s of SIGTERM");
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
