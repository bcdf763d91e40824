//! Witnessing the platform's transparency log over HTTP: fetch the log's keys and newest signed
//! tree head, ask for a consistency proof from the newest head seen before, and let
//! [`iamsmart_crypto::witness`] decide. The resident's app does it on every contact (its state
//! in `log-witness.json` in the app home); `iamsmart witness URL` does it for anyone who keeps
//! a copy of the heads.
use iamsmart_crypto::jose::PublicJwk;
use iamsmart_crypto::merkle::Hash;
use iamsmart_crypto::witness::{Alarm, SignedHead, WitnessState};
use std::path::Path;

/// Why a witness could not finish.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The log did something an honest log never does.
    #[error("ALARM: {0}")]
    Alarm(#[from] Alarm),
    /// The log could not be asked (network, or an answer that is not what the protocol says).
    #[error("cannot check the transparency log: {0}")]
    Unavailable(String),
}

/// What one observation found.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The newest head, accepted.
    pub head: SignedHead,
    /// Whether the log keys were pinned on this contact (the first one).
    pub pinned_now: bool,
    /// The size of the newest head seen before, if any.
    pub previous: Option<u64>,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
) -> Result<T, WitnessError> {
    let res = http
        .get(&url)
        .send()
        .await
        .map_err(|e| WitnessError::Unavailable(e.to_string()))?;
    if !res.status().is_success() {
        return Err(WitnessError::Unavailable(format!(
            "{url} answered {}",
            res.status()
        )));
    }
    res.json()
        .await
        .map_err(|e| WitnessError::Unavailable(format!("{url}: {e}")))
}

fn hash(s: &str) -> Option<Hash> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?
        .try_into()
        .ok()
}

/// Observe the log at `base` (the platform's public URL) once: pin its keys on first contact
/// (`pins`, thumbprints, when given: then those and no others), check the newest head and its
/// consistency with the newest head in `state`, and remember it there.
pub async fn observe(
    http: &reqwest::Client,
    base: &str,
    state: &mut WitnessState,
    pins: &[String],
) -> Result<Observed, WitnessError> {
    let base = base.trim_end_matches('/');
    #[derive(serde::Deserialize)]
    struct Keys {
        keys: Vec<PublicJwk>,
    }
    let keys: Keys = get_json(http, format!("{base}/transparency/v1/keys")).await?;
    let pinned_now = if state.log_keys.is_empty() && !pins.is_empty() {
        state.log_keys = pins.to_vec();
        true
    } else {
        state.pin_if_new(&keys.keys)
    };
    let head: SignedHead = get_json(http, format!("{base}/transparency/v1/tree-head")).await?;
    state.check_signature(&head, &keys.keys)?;
    let previous = state.newest().map(|h| h.tree_size);
    let proof = match state.proof_needed(&head)? {
        None => Vec::new(),
        Some(first) => {
            let v: serde_json::Value = get_json(
                http,
                format!(
                    "{base}/transparency/v1/consistency?first={first}&second={}",
                    head.tree_size
                ),
            )
            .await?;
            v["consistency_path"]
                .as_array()
                .map(|a| a.iter().map(|h| h.as_str().and_then(hash)).collect())
                .unwrap_or(Some(Vec::new()))
                .ok_or_else(|| WitnessError::Unavailable("malformed consistency proof".into()))?
        }
    };
    state.accept(&head, &proof)?;
    Ok(Observed {
        head,
        pinned_now,
        previous,
    })
}

/// Read a witness state file (a missing file is a first contact).
pub fn load(path: &Path) -> Result<WitnessState, WitnessError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| WitnessError::Unavailable(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WitnessState::default()),
        Err(e) => Err(WitnessError::Unavailable(format!(
            "{}: {e}",
            path.display()
        ))),
    }
}

/// Write a witness state file durably (as the device file is written: a private temporary
/// file, flushed, then renamed over the old one, so that a crash leaves one or the other).
pub fn save(path: &Path, state: &WitnessState) -> Result<(), WitnessError> {
    let bytes =
        serde_json::to_vec_pretty(state).map_err(|e| WitnessError::Unavailable(e.to_string()))?;
    super::write_private(path, &bytes).map_err(|e| WitnessError::Unavailable(e.to_string()))
}
