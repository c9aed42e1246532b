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
        Location::File(path) => {
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|source| IngestError::Io {
                    path: path.clone(),
                    source,
                })?;
            if meta.len() > max_body {
                return Err(too_large());
            }
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| IngestError::Io {
                    path: path.clone(),
                    source,
                })?;
            return Ok(Fetched::Body {
                bytes,
                validators: Validators::default(),
                moved_to: None,
            });
        }
        Location::Http(u) => u.clone(),
    };
    let mut permanent = true;
    let mut moved = false;
    for _ in 0..=MAX_REDIRECTS {
        // No answer, a timeout or a broken body: the next try may well succeed.
        let fetch_err = |e: reqwest::Error| IngestError::Fetch {
            url: url.to_string(),
            message: e.without_url().to_string(),
            transient: true,
        };
        let mut req = http.get(url.clone());
        if let Some(e) = &validators.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(m) = &validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, m);
        }
        let mut resp = req.send().await.map_err(fetch_err)?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let next = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|u| u.scheme() == "http" || u.scheme() == "https")
                .ok_or_else(|| IngestError::Fetch {
                    url: url.to_string(),
                    message: format!("HTTP {status} without a usable Location"),
                    transient: false,
                })?;
            permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            moved = true;
            url = next;
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
        while let Some(chunk) = resp.chunk().await.map_err(fetch_err)? {
            if (bytes.len() + chunk.len()) as u64 > max_body {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let moved_to = (moved && permanent).then(|| url.to_string());
        return Ok(Fetched::Body {
            bytes,
            validators,
            moved_to,
        });
    }
    Err(IngestError::Fetch {
        url: loc.display(),
        message: format!("more than {MAX_REDIRECTS} redirects"),
        transient: false,
    })
}
