//! Wire types of the iamsmart platform, shared by the server, the resident's app and tests.
//! No IO, no cryptography: just the shapes of what travels.
#![deny(missing_docs)]

pub mod app;
pub mod exchange;
pub mod i18n;
pub mod ids;
pub mod profile;
pub mod registry;
pub mod states;
pub mod time;
