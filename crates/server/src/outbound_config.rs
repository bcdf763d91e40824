//! `[outbound]`: the platform's calls to URLs that services and the operator supplied (clients'
//! key sets, back-channel endpoints, data providers, the registry). The defaults are the
//! domain's (`OutboundPolicy::default`).
use serde::{Deserialize, Serialize};

/// Outbound calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Networks that may be called although they are not public (addresses or CIDR, e.g.
    /// `["10.20.0.0/16"]` for the departments' systems). Loopback, private, link-local (cloud
    /// metadata) and the other internal ranges are refused otherwise. `iamsmart demo` allows
    /// loopback, where its sandbox services run.
    pub allow: Vec<String>,
    /// Time limit of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest answer read from a service's URL, in bytes.
    pub max_body_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        let p = iamsmart_domain::outbound::OutboundPolicy::default();
        Self {
            allow: Vec::new(),
            timeout_ms: u64::try_from(p.timeout.as_millis()).unwrap_or(5000),
            max_body_bytes: p.max_body,
        }
    }
}

impl OutboundConfig {
    /// The policy for the domain; (key, message) for a bad entry.
    pub fn policy(&self) -> Result<iamsmart_domain::outbound::OutboundPolicy, (String, String)> {
        let allow = self
            .allow
            .iter()
            .map(|a| {
                a.parse::<ipnet::IpNet>()
                    .or_else(|_| a.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        (
                            "outbound.allow".to_string(),
                            format!("{a:?} is not an address or a network such as 10.20.0.0/16"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.timeout_ms == 0 || self.max_body_bytes == 0 {
            return Err((
                "outbound.timeout_ms".into(),
                "the time limit and the size limit must be at least 1".into(),
            ));
        }
        Ok(iamsmart_domain::outbound::OutboundPolicy {
            allow,
            timeout: std::time::Duration::from_millis(self.timeout_ms),
            max_body: self.max_body_bytes,
            ..iamsmart_domain::outbound::OutboundPolicy::default()
        })
    }
}
