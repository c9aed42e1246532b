//! The accept loop: HTTP/1.1 connections served by hyper, with what a server on the public
//! internet needs to outlast slow clients: a connection that has not sent a whole request head
//! within the header timeout (after opening, or after its last answer) is closed; at most
//! `max_connections` are served at once, and at the bound the longest-idle connection (one with
//! no request being answered: half-sent, or kept alive) is closed to make room for the new one.
//! Accept errors (out of file descriptors) are logged and waited out, never a busy loop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How the server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection with no request being answered for this long is closed.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// The most connections a bound derived from the open-files limit allows (half the limit is
/// left to the database, the index and outgoing requests).
const AUTO_MAX: usize = 10_000;

impl Limits {
    /// The limits `[http]` sets; `max_connections = 0` is half of the open-files limit.
    pub fn from_config(http: &crate::config::HttpConfig) -> Limits {
        let max_connections = match http.max_connections {
            0 => open_files_limit()
                .map_or(512, |n| (n / 2) as usize)
                .clamp(16, AUTO_MAX),
            n => n as usize,
        };
        Limits {
            header_timeout: http.header_timeout.get(),
            max_connections,
        }
    }
}

/// The process's open-files limits (soft and hard), if they can be read.
fn nofile() -> Option<libc::rlimit> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } == 0).then_some(l)
}

/// The process's soft limit of open files, if it can be read.
pub fn open_files_limit() -> Option<u64> {
    nofile().map(|l| l.rlim_cur)
}

/// Raises the soft limit of open files to the hard limit (each connection, index segment and
/// database file takes one), logging both. Returns the soft limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    let Some(mut l) = nofile() else {
        warn!("cannot read the open-files limit");
        return None;
    };
    let before = l.rlim_cur;
    if l.rlim_cur < l.rlim_max {
        l.rlim_cur = l.rlim_max;
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } != 0 {
            warn!(
                soft = before,
                hard = l.rlim_max,
                "cannot raise the open-files limit"
            );
            return Some(before);
        }
    }
    info!(
        soft = l.rlim_cur,
        hard = l.rlim_max,
        was = before,
        "open-files limit"
    );
    Some(l.rlim_cur)
}

/// One served connection, as the accept loop sees it.
struct Conn {
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// When the last request was answered (or the connection opened).
    idle_since: Mutex<Instant>,
    /// Notified to close the connection.
    close: Notify,
}

impl Conn {
    fn idle_since(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| *self.idle_since.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The connections being served, by number.
#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    /// Registers a new connection, making room at the bound by closing the longest-idle one.
    /// `None` when every connection is answering a request (the new one is then refused).
    fn admit(&self, id: u64, max: usize) -> Option<Arc<Conn>> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() >= max {
            let oldest = conns
                .iter()
                .filter_map(|(k, c)| c.idle_since().map(|t| (t, *k)))
                .min()?;
            if let Some(c) = conns.remove(&oldest.1) {
                c.close.notify_one();
            }
        }
        let c = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        });
        conns.insert(id, c.clone());
        Some(c)
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// Accepts connections on `listener` forever, serving `router` on each within `limits`.
pub async fn accept_loop(listener: TcpListener, router: Router, limits: Limits) {
    let registry = Arc::new(Registry::default());
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, typically: wait for connections to end.
                warn!(error = %e, "cannot accept a connection; retrying shortly");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        let Some(conn) = registry.admit(next_id, limits.max_connections) else {
            debug!(%peer, "every connection is busy; refused");
            continue;
        };
        let (registry, router, id) = (registry.clone(), router.clone(), next_id);
        tokio::spawn(async move {
            serve_connection(stream, peer, router, &conn, limits.header_timeout).await;
            registry.remove(id);
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    conn: &Arc<Conn>,
    header_timeout: Duration,
) {
    let svc = TowerToHyperService::new(router);
    let counted = conn.clone();
    let service = hyper::service::service_fn(move |req| {
        counted.in_flight.fetch_add(1, Ordering::AcqRel);
        let done = counted.clone();
        let answer = hyper::service::Service::call(&svc, req);
        async move {
            let r = answer.await;
            *done.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            done.in_flight.fetch_sub(1, Ordering::AcqRel);
            r
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let tick = (header_timeout / 4).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            r = &mut served => {
                if let Err(e) = r {
                    debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.close.notified() => {
                debug!(%peer, "connection closed to make room");
                return;
            }
            () = tokio::time::sleep(tick) => {
                if conn.idle_since().is_some_and(|t| t.elapsed() >= header_timeout) {
                    debug!(%peer, "connection closed: no whole request within the header timeout");
                    return;
                }
            }
        }
    }
}
