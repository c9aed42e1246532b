//! Feeds added from chat must not make podbrief fetch from inside its own network: their URLs
//! may not point at loopback, private, link-local or otherwise non-public addresses (unless
//! `ingest.allow_private` says so).

use std::net::IpAddr;

/// Why a feed URL from chat is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GuardError {
    /// Not an http(s) URL.
    #[error("{0:?} is not an http(s) URL")]
    NotHttp(String),
    /// The host could not be resolved.
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    /// The host is (or resolves to) a non-public address.
    #[error(
        "{0} points at a private, loopback or link-local address ({1}); feeds added from chat must be public"
    )]
    Private(String, IpAddr),
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link-local
        }
    }
}

/// Checks a feed URL given in chat: http(s), and every address its host resolves to is public.
pub async fn check_chat_url(url: &str, allow_private: bool) -> Result<(), GuardError> {
    let parsed = url::Url::parse(url).map_err(|_| GuardError::NotHttp(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(GuardError::NotHttp(url.to_string()));
    }
    if allow_private {
        return Ok(());
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| GuardError::NotHttp(url.to_string()))?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| GuardError::Unresolvable(host.clone()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable(host));
    }
    match addrs.into_iter().find(|ip| !is_public(*ip)) {
        Some(ip) => Err(GuardError::Private(host, ip)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_addresses_are_refused() {
        for url in [
            "http://127.0.0.1/feed",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://localhost:8080/",
        ] {
            assert!(check_chat_url(url, false).await.is_err(), "{url}");
        }
        assert!(check_chat_url("http://127.0.0.1/feed", true).await.is_ok());
        assert!(matches!(
            check_chat_url("file:///etc/passwd", false).await,
            Err(GuardError::NotHttp(_))
        ));
        assert!(is_public("93.184.216.34".parse().unwrap()));
    }
}
