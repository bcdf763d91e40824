#![recursion_limit = "256"]
//! The rules of the platform, one module per area, free of HTTP.
//!
//! Every operation takes its time from a [`clock::Clock`] and its randomness from an
//! [`iamsmart_crypto::rng::Rng`], held with the database in an [`Env`] at the bottom of the
//! [`Platform`], so expiry and replay are testable.

pub mod audit;
pub mod authn;
pub mod clock;
pub mod connector;
pub mod env;
pub mod error;
pub mod exchange;
pub mod guard;
pub mod identity;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod osp_api;
pub mod outbound;
pub mod platform;
pub mod portal;
pub mod publicinfo;
pub mod settings;
pub mod signing;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vault;

pub use env::Env;
pub use error::DomainError;
pub use platform::Platform;
