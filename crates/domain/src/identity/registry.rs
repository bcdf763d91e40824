//! The Immigration Department's registry, reached only through this trait. The production
//! connector and the sandbox's stand-in speak the same signed HTTP protocol
//! ([`iamsmart_proto::registry`]).
use crate::connector::SignedClient;
use crate::error::{DomainError, Result};
use iamsmart_proto::registry::{RegistryAnswer, RegistryQuery};
use std::future::Future;
use std::pin::Pin;

/// A boxed future (the trait is used as a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Confirms card data against the registry.
pub trait Registry: Send + Sync {
    /// Look up `query`. Errors mean the registry could not answer (`DomainError::Upstream`).
    fn verify<'a>(&'a self, query: &'a RegistryQuery) -> BoxFuture<'a, Result<RegistryAnswer>>;
}

/// The registry over signed HTTP.
#[derive(Debug, Clone)]
pub struct HttpRegistry {
    client: SignedClient,
    verify_url: String,
}

impl HttpRegistry {
    /// A registry at `base_url` (e.g. `http://127.0.0.1:8091/immd`), answering with keys from
    /// `base_url/v1/jwks.json`.
    pub fn new(
        keys: crate::keys::KeyService,
        base_url: &str,
        timeout: std::time::Duration,
        outbound: &crate::outbound::OutboundPolicy,
    ) -> Result<Self> {
        let base = base_url.trim_end_matches('/');
        Ok(Self {
            client: SignedClient::new(
                keys,
                "the immigration registry",
                "immd",
                &format!("{base}/v1/jwks.json"),
                timeout,
                outbound,
            )?,
            verify_url: format!("{base}/v1/verify"),
        })
    }
}

impl Registry for HttpRegistry {
    fn verify<'a>(&'a self, query: &'a RegistryQuery) -> BoxFuture<'a, Result<RegistryAnswer>> {
        Box::pin(async move {
            let (status, body) = self.client.post_json(&self.verify_url, query).await?;
            if status != 200 {
                return Err(DomainError::Upstream {
                    service: self.client.service,
                    cause: format!("status {status}"),
                });
            }
            let answer: RegistryAnswer =
                serde_json::from_slice(&body).map_err(|e| DomainError::Upstream {
                    service: self.client.service,
                    cause: format!("answer: {e}"),
                })?;
            if !["match", "mismatch", "unknown"].contains(&answer.outcome.as_str())
                || (answer.outcome == "match") != answer.record.is_some()
            {
                return Err(DomainError::Upstream {
                    service: self.client.service,
                    cause: "answer is inconsistent".into(),
                });
            }
            Ok(answer)
        })
    }
}

/// A platform without a registry connection: registrations that need one are refused clearly.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegistry;

impl Registry for NoRegistry {
    fn verify<'a>(&'a self, _: &'a RegistryQuery) -> BoxFuture<'a, Result<RegistryAnswer>> {
        Box::pin(async {
            Err(DomainError::Upstream {
                service: "the immigration registry",
                cause: "no registry is configured (registry.url)".into(),
            })
        })
    }
}
