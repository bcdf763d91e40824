//! Sandbox services: small real HTTP services of ours, with synthetic data, standing in for
//! systems that belong to other organisations. Each speaks the interface the production
//! connector would use, including its authentication.
//!
//! - [`immd`]: the Immigration Department's registry of residents.
//! - [`demo_service`]: a demo online service that signs residents in with the platform (and
//!   notifies them through it once an application is submitted); it witnesses the platform's
//!   transparency log as the integration guide asks of services (`demo_witness`).
//! - [`providers`]: four departments' data for the Consented Data Exchange Gateway.
mod demo_licence;
mod demo_notify;
pub mod demo_service;
pub mod demo_sign;
mod demo_witness;
pub mod immd;
pub mod peer;
pub mod providers;
