//! Witnessing the platform's transparency log over HTTP: [`iamsmart_crypto::witness::observe`]
//! with this crate's HTTP client. The resident's app does it on every contact (its state in
//! `log-witness.json` in the app home); `iamsmart witness URL` does it for anyone who keeps a
//! copy of the heads.
use iamsmart_crypto::witness::WitnessState;
pub use iamsmart_crypto::witness::{Observed, WitnessError};
use std::path::Path;

/// GET `url` and parse its JSON answer; why not, in words.
pub async fn get_json(http: &reqwest::Client, url: String) -> Result<serde_json::Value, String> {
    let res = http.get(&url).send().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    res.json().await.map_err(|e| format!("{url}: {e}"))
}

/// Observe the log at `base` once through `http` (see [`iamsmart_crypto::witness::observe`]).
pub async fn observe(
    http: &reqwest::Client,
    base: &str,
    state: &mut WitnessState,
    pins: &[String],
) -> Result<Observed, WitnessError> {
    iamsmart_crypto::witness::observe(|url| get_json(http, url), base, state, pins).await
}

/// Read a witness state file (a missing file is a first contact).
pub fn load(path: &Path) -> Result<WitnessState, WitnessError> {
    WitnessState::load(path)
}

/// Write a witness state file durably.
pub fn save(path: &Path, state: &WitnessState) -> Result<(), WitnessError> {
    state.save(path)
}
