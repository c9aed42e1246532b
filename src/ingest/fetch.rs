//! Reading feeds and transcripts: local files, or HTTP with conditional requests (ETag /
//! Last-Modified, so an unchanged feed costs a 304), gzip, timeouts, a body-size cap, and
//! redirects followed by hand so a permanent one can be recorded as the feed's new address.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION};

use super::{IngestError, Location};

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// Validators from a previous response, for a conditional request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validators {
    /// The `ETag` seen last time.
    pub etag: Option<String>,
    /// The `Last-Modified` seen last time.
    pub last_modified: Option<String>,
}

/// What a fetch found.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// The document.
    Body {
        /// Its bytes.
        bytes: Vec<u8>,
        /// Validators for next time.
        validators: Validators,
        /// Where it permanently moved (every redirect on the way was 301 or 308).
        moved_to: Option<String>,
    },
    /// Unchanged since the validators were issued (HTTP 304).
    NotModified,
}

/// Fetches `loc`, refusing bodies over `max_body` bytes. `what` names the document in errors.
pub async fn fetch(
    http: &reqwest::Client,
    loc: &Location,
    what: &str,
    max_body: u64,
    validators: &Validators,
) -> Result<Fetched, IngestError> {
    let too_large = || IngestError::TooLarge {
        what: format!("{what} {}", loc.display()),
        limit_mb: max_body / 1024 / 1024,
    };
    let mut url = match loc {
        Location::File(path) => return read_file(path, max_body, &too_large).await,
        Location::Http(u) => u.clone(),
    };
    let mut permanent = true;
    let mut moved = false;
    for _ in 0..=MAX_REDIRECTS {
        let resp = get(http, &url, validators).await?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            moved = true;
            url = redirect_target(&resp, &url)?;
            continue;
        }
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(IngestError::Fetch {
                url: url.to_string(),
                message: format!("HTTP {status}"),
                transient: status.is_server_error()
                    || matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT
                    ),
            });
        }
        let moved_to = (moved && permanent).then(|| url.to_string());
        return read_body(resp, &url, (max_body, &too_large), moved_to).await;
    }
    Err(IngestError::Fetch {
        url: loc.display(),
        message: format!("more than {MAX_REDIRECTS} redirects"),
        transient: false,
    })
}

/// No answer, a timeout or a broken body: the next try may well succeed.
fn fetch_err(url: &reqwest::Url) -> impl Fn(reqwest::Error) -> IngestError + '_ {
    move |e: reqwest::Error| IngestError::Fetch {
        url: url.to_string(),
        message: e.without_url().to_string(),
        transient: true,
    }
}

/// One conditional GET of `url`.
async fn get(
    http: &reqwest::Client,
    url: &reqwest::Url,
    validators: &Validators,
) -> Result<reqwest::Response, IngestError> {
    let mut req = http.get(url.clone());
    if let Some(e) = &validators.etag {
        req = req.header(IF_NONE_MATCH, e);
    }
    if let Some(m) = &validators.last_modified {
        req = req.header(IF_MODIFIED_SINCE, m);
    }
    req.send().await.map_err(fetch_err(url))
}

/// Where a redirect points (http or https only).
fn redirect_target(
    resp: &reqwest::Response,
    url: &reqwest::Url,
) -> Result<reqwest::Url, IngestError> {
    resp.headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url.join(l).ok())
        .filter(|u| u.scheme() == "http" || u.scheme() == "https")
        .ok_or_else(|| IngestError::Fetch {
            url: url.to_string(),
            message: format!("HTTP {} without a usable Location", resp.status()),
            transient: false,
        })
}

/// A local file; `too_large` when it is over `max_body` bytes.
async fn read_file(
    path: &std::path::Path,
    max_body: u64,
    too_large: &(dyn Fn() -> IngestError + Sync),
) -> Result<Fetched, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = tokio::fs::metadata(path).await.map_err(io)?;
    if meta.len() > max_body {
        return Err(too_large());
    }
    let bytes = tokio::fs::read(path).await.map_err(io)?;
    Ok(Fetched::Body {
        bytes,
        validators: Validators::default(),
        moved_to: None,
    })
}

/// A successful answer's body and validators; the limit's error when it is over the limit
/// (in bytes).
async fn read_body(
    mut resp: reqwest::Response,
    url: &reqwest::Url,
    (max_body, too_large): (u64, &(dyn Fn() -> IngestError + Sync)),
    moved_to: Option<String>,
) -> Result<Fetched, IngestError> {
    if resp.content_length().is_some_and(|n| n > max_body) {
        return Err(too_large());
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let validators = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fetch_err(url))? {
        if (bytes.len() + chunk.len()) as u64 > max_body {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body {
        bytes,
        validators,
        moved_to,
    })
}
