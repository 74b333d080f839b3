//! Outbound HTTP on behalf of clients (`image_urls`, webhooks), guarded against SSRF: only
//! http(s), every address the host resolves to must be public (no loopback, private,
//! link-local, CGNAT, multicast or unspecified ranges) unless an allow-list names the host or
//! its network, the connection is pinned to the checked address (no DNS rebinding), redirects
//! are not followed, and bodies are size-capped while streaming.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// Why an outbound request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("URL `{0}` is not a valid http(s) URL")]
    BadUrl(String),
    #[error("`{host}` resolves to {addr}, a private/loopback/link-local address; refused (allow it with --allow-hosts)")]
    Forbidden { host: String, addr: IpAddr },
    #[error("cannot resolve `{0}`")]
    Resolve(String),
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// Allow-list of hosts and networks that may be private.
#[derive(Debug, Clone, Default)]
pub struct HostGuard {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl HostGuard {
    /// Entries are host names, IP addresses, or networks in CIDR form.
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut g = HostGuard::default();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Some((ip, bits)) = e.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| format!("bad network `{e}`"))?;
                let bits: u8 = bits.parse().map_err(|_| format!("bad prefix in `{e}`"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(format!("prefix too long in `{e}`"));
                }
                g.nets.push((ip, bits));
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                g.nets.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else {
                g.hosts.push(e.to_ascii_lowercase());
            }
        }
        Ok(g)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.nets.iter().any(|&(net, bits)| in_net(ip, net, bits))
    }

    /// Resolves `url`'s host and checks every address; returns the URL and one address to
    /// connect to.
    pub async fn check(&self, raw: &str) -> Result<(url::Url, SocketAddr), FetchError> {
        let url = url::Url::parse(raw).map_err(|_| FetchError::BadUrl(raw.to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
            return Err(FetchError::BadUrl(raw.to_owned()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::BadUrl(raw.to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::BadUrl(raw.to_owned()))?;
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| FetchError::Resolve(host.clone()))?
                .collect(),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| FetchError::Resolve(host.clone()))?;
        if !self.hosts.contains(&host) {
            if let Some(bad) = addrs.iter().find(|a| !self.allows_ip(a.ip())) {
                return Err(FetchError::Forbidden {
                    host,
                    addr: bad.ip(),
                });
            }
        }
        Ok((url, first))
    }

    /// A client for `url` pinned to its checked address, with no redirects.
    async fn client(
        &self,
        raw: &str,
        timeout: Duration,
    ) -> Result<(reqwest::Client, url::Url), FetchError> {
        let (url, addr) = self.check(raw).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .resolve(&host, addr)
            .build()
            .map_err(|source| FetchError::Http {
                url: raw.to_owned(),
                source,
            })?;
        Ok((client, url))
    }

    /// GETs `raw` into memory, refusing bodies over `limit` bytes.
    pub async fn fetch(&self, raw: &str, limit: usize) -> Result<Bytes, FetchError> {
        let (client, url) = self.client(raw, Duration::from_secs(60)).await?;
        let http = |source| FetchError::Http {
            url: raw.to_owned(),
            source,
        };
        let res = client.get(url).send().await.map_err(http)?;
        if !res.status().is_success() {
            return Err(FetchError::Status {
                url: raw.to_owned(),
                status: res.status().as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: raw.to_owned(),
            limit,
        };
        if res.content_length().is_some_and(|n| n as usize > limit) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(http)?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// POSTs a JSON body with extra headers; Ok when the receiver answers 2xx.
    pub async fn post_json(
        &self,
        raw: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<(), FetchError> {
        let (client, url) = self.client(raw, Duration::from_secs(15)).await?;
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let res = req.send().await.map_err(|source| FetchError::Http {
            url: raw.to_owned(),
            source,
        })?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(FetchError::Status {
                url: raw.to_owned(),
                status: res.status().as_u16(),
            })
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240)
}

/// Whether `ip` is a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::from(0u128))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::",
        ] {
            assert!(!is_public(a.parse().expect("ip")), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "93.184.216.34"] {
            assert!(is_public(a.parse().expect("ip")), "{a}");
        }
    }

    #[tokio::test]
    async fn guard_refuses_private_targets_unless_allowed() {
        let g = HostGuard::new(&[]).expect("guard");
        for url in [
            "http://127.0.0.1:9/x.jpg",
            "http://localhost/x.jpg",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
        ] {
            assert!(
                matches!(g.check(url).await, Err(FetchError::Forbidden { .. })),
                "{url}"
            );
        }
        for url in [
            "file:///etc/passwd",
            "gopher://x/",
            "http://user:pw@8.8.8.8/",
            "nonsense",
        ] {
            assert!(
                matches!(g.check(url).await, Err(FetchError::BadUrl(_))),
                "{url}"
            );
        }
        let allow = HostGuard::new(&["127.0.0.0/8".into(), "localhost".into()]).expect("guard");
        assert!(allow.check("http://127.0.0.1:9/x.jpg").await.is_ok());
        assert!(allow.check("http://localhost:9/x.jpg").await.is_ok());
        assert!(allow.check("http://10.0.0.1/").await.is_err());
    }
}
