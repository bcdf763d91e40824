//! The sandbox Immigration Department registry: synthetic residents from a seed file, with
//! reference photos for some (public-domain images fetched by `scripts/fetch-face-data`).
//!
//! - `POST /immd/v1/verify` (signed by the platform): does a record match the card data?
//! - `GET /immd/v1/jwks.json`: the keys this registry signs its answers with.
//! - `GET /immd/v1/residents`: the synthetic residents (sandbox only, for integrators' tests).
use crate::peer::Peer;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use iamsmart_proto::registry::{RegistryAnswer, RegistryQuery, RegistryRecord};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The seed shipped with the repository.
pub const DEFAULT_SEED: &str = include_str!("../seed/immd.json");

/// One synthetic resident.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResident {
    /// HKID, display form.
    pub hkid: String,
    /// English name.
    pub name_en: String,
    /// Chinese name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Date of birth.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    pub gender: String,
    /// Card issue date.
    pub card_issue_date: String,
    /// File name of the reference photo in the photos directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Seed {
    residents: Vec<SeedResident>,
}

/// Parse a seed document.
pub fn parse_seed(text: &str) -> anyhow::Result<Vec<SeedResident>> {
    let seed: Seed = serde_json::from_str(text)?;
    Ok(seed.residents)
}

/// Settings of the registry.
#[derive(Debug, Clone)]
pub struct ImmdConfig {
    /// Where the platform publishes its connector keys.
    pub platform_jwks_url: String,
    /// Directory of reference photos.
    pub photos_dir: Option<PathBuf>,
    /// The residents.
    pub residents: Vec<SeedResident>,
    /// Added to every answer (to rehearse a slow registry).
    pub delay: Duration,
}

struct Immd {
    cfg: ImmdConfig,
    peer: Peer,
}

/// HKID in canonical form (letters and digits, upper case).
fn canonical_hkid(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// English names compare without case, punctuation or spacing differences.
fn canonical_name(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The registry's decision for a query.
pub fn lookup(residents: &[SeedResident], q: &RegistryQuery) -> (String, Option<SeedResident>) {
    let want = canonical_hkid(&q.hkid);
    let Some(r) = residents.iter().find(|r| canonical_hkid(&r.hkid) == want) else {
        return ("unknown".into(), None);
    };
    let zh_ok = match (&q.name_zh, &r.name_zh) {
        (Some(a), Some(b)) => a.trim() == b,
        (Some(_), None) => false,
        (None, _) => true,
    };
    if canonical_name(&q.name_en) == canonical_name(&r.name_en)
        && q.date_of_birth == r.date_of_birth
        && zh_ok
    {
        ("match".into(), Some(r.clone()))
    } else {
        ("mismatch".into(), None)
    }
}

/// The registry's routes under `/immd`.
pub fn router(cfg: ImmdConfig) -> anyhow::Result<Router> {
    let peer = Peer::new("immd", &cfg.platform_jwks_url)?;
    let state = Arc::new(Immd { cfg, peer });
    Ok(Router::new()
        .route("/immd/v1/verify", post(verify))
        .route("/immd/v1/jwks.json", get(jwks))
        .route("/immd/v1/residents", get(residents))
        .route("/immd/healthz", get(|| async { "ok" }))
        .with_state(state))
}

async fn jwks(State(s): State<Arc<Immd>>) -> Json<serde_json::Value> {
    Json(s.peer.jwks())
}

async fn residents(State(s): State<Arc<Immd>>) -> Json<serde_json::Value> {
    let list: Vec<serde_json::Value> = s
        .cfg
        .residents
        .iter()
        .map(|r| {
            serde_json::json!({
                "hkid": r.hkid, "name_en": r.name_en, "name_zh": r.name_zh,
                "date_of_birth": r.date_of_birth, "gender": r.gender,
                "has_photo": r.photo.is_some(),
            })
        })
        .collect();
    Json(serde_json::json!({ "residents": list }))
}

async fn verify(State(s): State<Arc<Immd>>, headers: HeaderMap, body: Bytes) -> Response {
    let jti = match s
        .peer
        .verify(&headers, "POST", "/immd/v1/verify", &body)
        .await
    {
        Ok(j) => j,
        Err(refused) => return refused.into_response(),
    };
    if !s.cfg.delay.is_zero() {
        tokio::time::sleep(s.cfg.delay).await;
    }
    let q: RegistryQuery = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return s.peer.answer(
                &jti,
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": "bad_request", "detail": e.to_string() }),
            )
        }
    };
    let (outcome, found) = lookup(&s.cfg.residents, &q);
    let mut photo = None;
    if let (Some(r), true) = (&found, q.include_photo) {
        if let (Some(dir), Some(file)) = (&s.cfg.photos_dir, &r.photo) {
            match tokio::fs::read(dir.join(file)).await {
                Ok(bytes) => {
                    photo = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
                }
                Err(e) => tracing::warn!(file, error = %e, "reference photo missing"),
            }
        }
    }
    let answer = RegistryAnswer {
        outcome,
        record: found.map(|r| RegistryRecord {
            hkid: r.hkid,
            name_en: r.name_en,
            name_zh: r.name_zh,
            date_of_birth: r.date_of_birth,
            gender: r.gender,
            card_issue_date: r.card_issue_date,
        }),
        photo,
    };
    let body = serde_json::to_value(&answer).unwrap_or_default();
    s.peer.answer(&jti, StatusCode::OK, &body)
}

/// Serve the registry on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, cfg: ImmdConfig) -> anyhow::Result<()> {
    axum::serve(listener, router(cfg)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_parses_and_every_hkid_is_unique() {
        let r = parse_seed(DEFAULT_SEED).unwrap();
        assert!(r.len() >= 20);
        let mut ids: Vec<String> = r.iter().map(|x| canonical_hkid(&x.hkid)).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), r.len());
        assert!(r.iter().filter(|x| x.photo.is_some()).count() >= 3);
        assert!(
            r.iter().any(|x| canonical_hkid(&x.hkid).len() == 9),
            "two-letter prefixes"
        );
    }

    #[test]
    fn lookups_match_leniently_on_spelling_and_strictly_on_facts() {
        let r = parse_seed(DEFAULT_SEED).unwrap();
        let a = &r[0];
        let q = |hkid: &str, name: &str, dob: &str, zh: Option<&str>| RegistryQuery {
            hkid: hkid.into(),
            name_en: name.into(),
            name_zh: zh.map(Into::into),
            date_of_birth: dob.into(),
            include_photo: false,
        };
        let lower = a.name_en.to_lowercase().replace(',', "");
        assert_eq!(
            lookup(&r, &q(&a.hkid, &lower, &a.date_of_birth, None)).0,
            "match"
        );
        assert_eq!(
            lookup(&r, &q(&a.hkid, &a.name_en, "1900-01-01", None)).0,
            "mismatch"
        );
        assert_eq!(
            lookup(
                &r,
                &q(&a.hkid, &a.name_en, &a.date_of_birth, Some("王小明"))
            )
            .0,
            "mismatch"
        );
        assert_eq!(
            lookup(&r, &q("Z999999(9)", &a.name_en, &a.date_of_birth, None)).0,
            "unknown"
        );
    }
}
