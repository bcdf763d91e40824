//! The one way the platform calls a URL that a service or the operator supplied (a client's
//! `jwks_uri`, `sector_identifier_uri`, back-channel logout and CIBA ping endpoints; the data
//! providers and the registry). Such a URL can point anywhere, so every call:
//!
//! - connects only to public addresses, checked on the addresses the name resolves to (the
//!   resolver below is the only one the client uses, so a name cannot resolve to a public address
//!   for the check and to an internal one for the connection), and on literal addresses in the
//!   URL; loopback, private, link-local (cloud metadata), unique-local, shared, multicast and
//!   reserved ranges are refused unless the configuration's allow-list names them (the sandbox,
//!   tests);
//! - follows no redirect, ends after a time limit, and reads at most a set number of bytes;
//! - fails with one of three plain errors that never carry the underlying one (which names
//!   addresses, ports and statuses: an oracle for probing a network); what went wrong is logged;
//! - remembers a failed URL for a short while, so that a caller cannot make the platform call a
//!   bad address in a loop.
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a call may do.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Networks allowed although not public (e.g. `127.0.0.0/8` for a sandbox on one host).
    pub allow: Vec<IpNet>,
    /// Time limit of one call.
    pub timeout: Duration,
    /// Largest answer read, in bytes.
    pub max_body: usize,
    /// How long a failed URL is not called again.
    pub failure_ttl: Duration,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            timeout: Duration::from_secs(5),
            max_body: 256 * 1024,
            failure_ttl: Duration::from_secs(30),
        }
    }
}

/// Why a call gave nothing. The messages name no address, port or status on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not an `https` URL (or `http` to an allowed network), or it resolves to an
    /// address that is not allowed.
    #[error("the address is not allowed")]
    Forbidden,
    /// No usable answer: unreachable, too slow, an error status, or failed moments ago.
    #[error("no usable answer")]
    Failed,
    /// The answer was larger than allowed.
    #[error("the answer is too large")]
    TooLarge,
    /// The answer was not what was expected (not JSON).
    #[error("the answer is not valid")]
    Invalid,
}

/// Whether `ip` may be called: public unicast, or in `allow`.
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    if allow.iter().any(|n| n.contains(&ip)) {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return allowed(IpAddr::V4(v4), allow);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || s[..6] == [0; 6] // IPv4-compatible (deprecated): ::a.b.c.d
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 of IPv4 (may reach private v4)
                || s[0] == 0x2002) // 6to4 (likewise)
        }
    }
}

fn public_v4(ip: std::net::Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240) // reserved
}

/// Check a URL before any call: `https`, or `http` only to an allowed network; a literal
/// address must be allowed (a name is checked when it is resolved, by the guarded resolver).
pub fn check_url(policy: &OutboundPolicy, url: &str) -> Result<reqwest::Url, OutboundError> {
    let u = reqwest::Url::parse(url).map_err(|_| OutboundError::Forbidden)?;

    if !u.username().is_empty() || u.password().is_some() {
        return Err(OutboundError::Forbidden);
    }
    let literal = match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
            Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        }
        Some(url::Host::Domain(_)) => None,
        None => return Err(OutboundError::Forbidden),
    };
    if let Some(ip) = literal {
        if !allowed(ip, &policy.allow) {
            return Err(OutboundError::Forbidden);
        }
    }
    match u.scheme() {
        "https" => Ok(u),
        // Plain HTTP only inside a network the operator allowed (the sandbox on one host).
        "http" if literal.is_some_and(|ip| policy.allow.iter().any(|n| n.contains(&ip))) => Ok(u),
        _ => Err(OutboundError::Forbidden),
    }
}

/// A resolver that answers only allowed addresses (and fails when there are none).
struct GuardedResolver {
    allow: Arc<Vec<IpNet>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed(a.ip(), &allow))
                .collect();
            if found.is_empty() {
                return Err("the name resolves to no allowed address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The guarded client. Cheap to clone; one per platform.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    failed: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .finish()
    }
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new(OutboundPolicy::default())
    }
}

impl Outbound {
    /// A client with `policy`.
    pub fn new(policy: OutboundPolicy) -> Self {
        let http = Self::builder(&policy).build().unwrap_or_default();
        Self {
            http,
            policy: Arc::new(policy),
            failed: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A reqwest builder with the guarded resolver, no redirects and the time limit, for callers
    /// that need their own client (the connector signs its requests).
    pub fn builder(policy: &OutboundPolicy) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                allow: Arc::new(policy.allow.clone()),
            }))
    }

    /// The policy in force.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Check a URL before any call (see [`check_url`]).
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        check_url(&self.policy, url)
    }

    fn recently_failed(&self, url: &str) -> bool {
        let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        f.retain(|_, at| at.elapsed() < self.policy.failure_ttl);
        f.contains_key(url)
    }

    fn remember_failure(&self, url: &str, why: &str) {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        tracing::warn!(host = %host, reason = %why, "outbound call failed");
        let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() > 10_000 {
            f.clear();
        }
        f.insert(url.to_string(), Instant::now());
    }

    /// Send a request and read its answer (at most `max_body` bytes); a success status only.
    async fn send(
        &self,
        url: &str,
        req: impl FnOnce(&reqwest::Client, reqwest::Url) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), OutboundError> {
        let u = self.check_url(url)?;
        if self.recently_failed(url) {
            return Err(OutboundError::Failed);
        }
        let res = match req(&self.http, u).send().await {
            Ok(r) => r,
            Err(e) => {
                self.remember_failure(
                    url,
                    if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect"
                    } else {
                        "request"
                    },
                );
                return Err(OutboundError::Failed);
            }
        };
        let status = res.status().as_u16();
        if !res.status().is_success() {
            self.remember_failure(url, &format!("status {status}"));
            return Err(OutboundError::Failed);
        }
        if res
            .content_length()
            .is_some_and(|n| n > self.policy.max_body as u64)
        {
            self.remember_failure(url, "declared body too large");
            return Err(OutboundError::TooLarge);
        }
        let mut res = res;
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.policy.max_body {
                        self.remember_failure(url, "body too large");
                        return Err(OutboundError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    self.remember_failure(url, "body");
                    return Err(OutboundError::Failed);
                }
            }
        }
        Ok((status, body))
    }

    /// GET a JSON document.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, OutboundError> {
        let (_, body) = self.send(url, |c, u| c.get(u)).await?;
        serde_json::from_slice(&body).map_err(|_| OutboundError::Invalid)
    }

    /// POST a form; answers the status (a success).
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<u16, OutboundError> {
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(self.send(url, |c, u| c.post(u).form(&form)).await?.0)
    }

    /// POST a JSON body given as bytes (so that a signature over those bytes holds) with extra
    /// headers; answers the status (a success).
    pub async fn post_json_bytes(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<u16, OutboundError> {
        Ok(self
            .send(url, |c, u| {
                let mut r = c
                    .post(u)
                    .header(reqwest::header::CONTENT_TYPE, "application/json");
                for (name, value) in headers {
                    r = r.header(*name, value);
                }
                r.body(body)
            })
            .await?
            .0)
    }

    /// POST JSON with a bearer token; answers the status (a success).
    pub async fn post_json_bearer(
        &self,
        url: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<u16, OutboundError> {
        Ok(self
            .send(url, |c, u| c.post(u).bearer_auth(token).json(body))
            .await?
            .0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::a9fe:a9fe",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
        ] {
            assert!(!allowed(ip(bad), &[]), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            assert!(allowed(ip(good), &[]), "{good}");
        }
        let sandbox: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(allowed(ip("127.0.0.1"), &[sandbox]));
        assert!(!allowed(ip("10.0.0.1"), &[sandbox]));
    }

    #[test]
    fn urls_are_checked_before_any_call() {
        let o = Outbound::default();
        for bad in [
            "http://example.com/jwks", // plain HTTP outside an allowed network
            "https://127.0.0.1/jwks",
            "https://localhost/jwks",
            "https://[::1]/jwks",
            "https://169.254.169.254/latest/meta-data/",
            "https://user:pw@example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "not a url",
        ] {
            assert_eq!(
                o.check_url(bad).unwrap_err(),
                OutboundError::Forbidden,
                "{bad}"
            );
        }
        assert!(o.check_url("https://example.com/jwks").is_ok());
        let sandbox = Outbound::new(OutboundPolicy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..OutboundPolicy::default()
        });
        assert!(sandbox.check_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(sandbox.check_url("http://localhost:8080/jwks").is_ok());
        assert!(sandbox.check_url("http://10.0.0.1/").is_err());
    }
}
