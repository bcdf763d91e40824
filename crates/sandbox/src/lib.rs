//! Sandbox services: small real HTTP services of ours, with synthetic data, standing in for
//! systems that belong to other organisations. Each speaks the interface the production
//! connector would use, including its authentication.
//!
//! - [`immd`]: the Immigration Department's registry of residents.
pub mod immd;
pub mod peer;
