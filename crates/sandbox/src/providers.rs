//! Sandbox data providers for the Consented Data Exchange Gateway: four departments, each a real
//! HTTP service with synthetic data for the sandbox residents (derived from their HKID, so that
//! every resident has the same data every run):
//!
//! - Transport Department (`td`): driving licence (number, classes, expiry);
//! - Inland Revenue Department (`ird`): salaries tax assessment (year, income, tax);
//! - Housing Department (`hd`): public rental tenancy (estate, flat, household members);
//! - Education Bureau (`edb`): school attendance and qualifications.
//!
//! `GET /{dept}/v1/items` lists the department's data items (schema, titles in English and
//! Chinese, legal basis, who may ask); `POST /{dept}/v1/fetch` (signed by the platform's
//! connector key) answers with each item encrypted to the requester's key (JWE): the gateway
//! relays it without being able to read it.
use crate::peer::Peer;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use iamsmart_crypto::jose::PublicJwk;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The departments.
pub const DEPARTMENTS: [(&str, &str, &str); 4] = [
    ("td", "Transport Department", "運輸署"),
    ("ird", "Inland Revenue Department", "稅務局"),
    ("hd", "Housing Department", "房屋署"),
    ("edb", "Education Bureau", "教育局"),
];

/// A department's data items (as registered at the platform).
pub fn items(dept: &str) -> serde_json::Value {
    let item = |id: &str,
                en: &str,
                zh: &str,
                den: &str,
                dzh: &str,
                basis: &str,
                requesters: &[&str],
                schema: serde_json::Value| {
        serde_json::json!({
            "item": id, "title_en": en, "title_zh": zh, "description_en": den, "description_zh": dzh,
            "legal_basis": basis, "requesters": requesters, "schema": schema,
        })
    };
    let s = |props: &[(&str, &str)]| {
        let mut p = serde_json::Map::new();
        for (k, t) in props {
            p.insert((*k).into(), serde_json::json!({ "type": t }));
        }
        serde_json::json!({ "type": "object", "properties": p, "required": props.iter().map(|(k, _)| *k).collect::<Vec<_>>() })
    };
    match dept {
        "td" => serde_json::json!([item(
            "driving_licence",
            "Driving licence",
            "駕駛執照",
            "Licence number, vehicle classes and expiry date of a full driving licence.",
            "正式駕駛執照的號碼、車輛類別及屆滿日期。",
            "Road Traffic Ordinance (Cap. 374); the resident's consent (PDPO DPP3)",
            &["government", "bank", "commercial"],
            s(&[
                ("number", "string"),
                ("classes", "array"),
                ("expiry", "string")
            ]),
        )]),
        "ird" => serde_json::json!([item(
            "salaries_tax",
            "Salaries tax assessment",
            "薪俸稅評稅",
            "The latest year of assessment, net chargeable income and tax payable.",
            "最近一個課稅年度的應課稅入息實額及應繳稅款。",
            "Inland Revenue Ordinance (Cap. 112) s.4(1) disclosure with the taxpayer's consent",
            &["government", "bank"],
            s(&[
                ("year_of_assessment", "string"),
                ("net_chargeable_income", "integer"),
                ("tax_payable", "integer")
            ]),
        )]),
        "hd" => serde_json::json!([item(
            "public_rental_tenancy",
            "Public rental tenancy",
            "公共租住房屋租約",
            "Estate, block and flat of the tenancy, and the household members' number.",
            "租住單位所在屋邨、座數及單位，以及家庭成員人數。",
            "Housing Ordinance (Cap. 283); the tenant's consent (PDPO DPP3)",
            &["government", "bank"],
            s(&[
                ("estate", "string"),
                ("block", "string"),
                ("flat", "string"),
                ("household_members", "integer")
            ]),
        )]),
        "edb" => serde_json::json!([
            item(
                "school_attendance",
                "School attendance",
                "就學紀錄",
                "The school and level attended in the current school year.",
                "本學年就讀的學校及級別。",
                "Education Ordinance (Cap. 279); the resident's consent (PDPO DPP3)",
                &["government"],
                s(&[
                    ("school", "string"),
                    ("level", "string"),
                    ("school_year", "string")
                ]),
            ),
            item(
                "qualifications",
                "Qualifications",
                "學歷",
                "Public examination qualifications on record.",
                "公開考試學歷紀錄。",
                "Education Ordinance (Cap. 279); the resident's consent (PDPO DPP3)",
                &["government", "bank", "commercial"],
                s(&[("qualifications", "array")]),
            ),
        ]),
        _ => serde_json::json!([]),
    }
}

/// A number from 0 to `n - 1` derived from an HKID and a salt (synthetic, stable).
fn pick(hkid: &str, salt: &str, n: u64) -> u64 {
    let d = iamsmart_crypto::hash::sha256(format!("{salt}|{hkid}").as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap_or_default()) % n.max(1)
}

/// A department's registration at the platform (`ProviderDef`), with its service at `base_url`
/// (the providers' root; the department's path is appended).
pub fn definition(dept: &str, base_url: &str) -> Option<serde_json::Value> {
    let (id, en, zh) = DEPARTMENTS.iter().find(|d| d.0 == dept)?;
    Some(serde_json::json!({
        "id": id, "name_en": en, "name_zh": zh,
        "base_url": format!("{}/{id}", base_url.trim_end_matches('/')),
        "items": items(id),
    }))
}

/// The synthetic record of an item for a resident (`None`: the department holds nothing).
pub fn record(dept: &str, item: &str, hkid: &str) -> Option<serde_json::Value> {
    let h = |salt: &str, n: u64| pick(hkid, salt, n);
    Some(match (dept, item) {
        ("td", "driving_licence") => {
            if h("td-has", 10) < 2 {
                return None;
            }
            let classes: Vec<&str> = ["1", "2", "3", "4", "5"]
                .into_iter()
                .filter(|c| h(c, 3) > 0)
                .collect();
            serde_json::json!({
                "number": format!("DL{:07}", h("td-no", 10_000_000)),
                "classes": classes,
                "expiry": format!("{}-{:02}-{:02}", 2027 + h("td-y", 9), 1 + h("td-m", 12), 1 + h("td-d", 28)),
            })
        }
        ("ird", "salaries_tax") => {
            let income = 180_000 + h("ird-i", 1_800_000);
            // 8.5% of what is above the allowance, in whole dollars (money in integers).
            let tax = income.saturating_sub(132_000) * 85 / 1000;
            serde_json::json!({ "year_of_assessment": "2025/26", "net_chargeable_income": income, "tax_payable": tax })
        }
        ("hd", "public_rental_tenancy") => {
            if h("hd-has", 10) < 4 {
                return None;
            }
            let estates = [
                "Shek Kip Mei Estate",
                "Choi Hung Estate",
                "Lek Yuen Estate",
                "Tin Shui Wai Estate",
                "Kwai Chung Estate",
            ];
            serde_json::json!({
                "estate": estates[usize::try_from(h("hd-e", estates.len() as u64)).unwrap_or(0)],
                "block": format!("Block {}", 1 + h("hd-b", 12)),
                "flat": format!("{}{:02}", 3 + h("hd-f", 30), 1 + h("hd-u", 20)),
                "household_members": 1 + h("hd-m", 6),
            })
        }
        ("edb", "school_attendance") => {
            if h("edb-s", 10) < 7 {
                return None;
            }
            serde_json::json!({ "school": "Sample Secondary School", "level": format!("S{}", 1 + h("edb-l", 6)), "school_year": "2026/27" })
        }
        ("edb", "qualifications") => serde_json::json!({
            "qualifications": [{ "exam": "HKDSE", "year": 2000 + h("edb-y", 25), "best_five": 15 + h("edb-b", 15) }]
        }),
        _ => return None,
    })
}

struct Providers {
    peers: HashMap<String, Peer>,
}

/// The providers' routes under `/{dept}`.
pub fn router(platform_jwks_url: &str) -> anyhow::Result<Router> {
    let mut peers = HashMap::new();
    for (id, _, _) in DEPARTMENTS {
        peers.insert(id.to_string(), Peer::new(id, platform_jwks_url)?);
    }
    Ok(Router::new()
        .route("/{dept}/v1/items", get(list_items))
        .route("/{dept}/v1/jwks.json", get(jwks))
        .route("/{dept}/v1/fetch", post(fetch))
        .route("/providers/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(Providers { peers })))
}

async fn list_items(Path(dept): Path<String>) -> Response {
    let Some((_, en, zh)) = DEPARTMENTS.iter().find(|d| d.0 == dept) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Json(serde_json::json!({ "provider": dept, "name_en": en, "name_zh": zh, "items": items(&dept) })).into_response()
}

async fn jwks(State(s): State<Arc<Providers>>, Path(dept): Path<String>) -> Response {
    match s.peers.get(&dept) {
        Some(p) => Json(p.jwks()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct FetchRequest {
    consent_id: String,
    hkid: String,
    items: Vec<String>,
    requester: Requester,
    requester_key: PublicJwk,
}

#[derive(Deserialize)]
struct Requester {
    client_id: String,
}

/// An item signed by the provider (so the requester can prove where it came from), then
/// encrypted to the requester's key (so only it can read it).
fn seal_item(
    peer: &Peer,
    req: &FetchRequest,
    dept: &str,
    item: &str,
    data: serde_json::Value,
) -> Result<String, iamsmart_crypto::CryptoError> {
    let claims = iamsmart_proto::exchange::ItemClaims {
        iss: dept.to_string(),
        aud: req.requester.client_id.clone(),
        consent_id: req.consent_id.clone(),
        item: item.to_string(),
        iat: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        data,
    };
    let payload =
        serde_json::to_vec(&claims).map_err(|_| iamsmart_crypto::CryptoError::Internal("json"))?;
    let jws = peer.sign(iamsmart_proto::exchange::ITEM_TYP, &payload)?;
    iamsmart_crypto::jwe::encrypt(&req.requester_key, jws.as_bytes(), Some("JWT"))
}

async fn fetch(
    State(s): State<Arc<Providers>>,
    Path(dept): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(peer) = s.peers.get(&dept) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let jti = match peer
        .verify(&headers, "POST", &format!("/{dept}/v1/fetch"), &body)
        .await
    {
        Ok(j) => j,
        Err(r) => return r.into_response(),
    };
    let req: FetchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return peer.answer(
                &jti,
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": e.to_string() }),
            )
        }
    };
    let known: Vec<String> = items(&dept)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["item"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut results = Vec::new();
    for item in &req.items {
        if !known.contains(item) {
            return peer.answer(
                &jti,
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": format!("unknown item {item}") }),
            );
        }
        let entry = match record(&dept, item, &req.hkid) {
            None => serde_json::json!({ "item": item, "status": "none" }),
            Some(data) => {
                let shape = iamsmart_proto::exchange::shape_of(&data);
                match seal_item(peer, &req, &dept, item, data) {
                    Ok(jwe) => serde_json::json!({
                        "item": item, "status": "ok", "jwe": jwe, "shape": shape,
                    }),
                    Err(e) => {
                        return peer.answer(
                            &jti,
                            StatusCode::BAD_REQUEST,
                            &serde_json::json!({ "error": format!("requester key: {e}") }),
                        )
                    }
                }
            }
        };
        results.push(entry);
    }
    peer.answer(
        &jti,
        StatusCode::OK,
        &serde_json::json!({ "results": results }),
    )
}

/// What a requester does with an item the gateway relayed: decrypt it with its key, verify the
/// provider's signature with the provider's published keys, and check that it was made by that
/// provider for this requester, consent and item. Returns the record.
pub fn open_item(
    key: &iamsmart_crypto::jwe::EncryptionKey,
    jwe: &str,
    provider_keys: &[PublicJwk],
    expected: &ExpectedItem<'_>,
) -> Result<serde_json::Value, String> {
    let payload = key
        .decrypt_signed(jwe, provider_keys, iamsmart_proto::exchange::ITEM_TYP)
        .map_err(|e| format!("the item is not signed by the provider: {e}"))?;
    let c: iamsmart_proto::exchange::ItemClaims =
        serde_json::from_slice(&payload).map_err(|_| "the signed item is malformed".to_string())?;
    if c.iss != expected.provider
        || c.aud != expected.client_id
        || c.consent_id != expected.consent_id
        || c.item != expected.item
    {
        return Err("the signed item is for another provider, requester, consent or item".into());
    }
    Ok(c.data)
}

/// What a requester expects of an item.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedItem<'a> {
    /// The provider asked.
    pub provider: &'a str,
    /// The requester's own client id.
    pub client_id: &'a str,
    /// The consent it fetched under.
    pub consent_id: &'a str,
    /// The item asked for.
    pub item: &'a str,
}

/// A provider's signing keys, from where the gateway's catalogue says it publishes them
/// (`provider_jwks_uri`). A requester would pin them, or fetch them from the provider once and
/// cache them.
pub async fn provider_keys(
    http: &reqwest::Client,
    platform: &str,
    provider: &str,
) -> Result<Vec<PublicJwk>, String> {
    let get = |url: String| async move {
        http.get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json::<serde_json::Value>()
            .await
            .map_err(|e| e.to_string())
    };
    let cat = get(format!(
        "{}/gateway/v1/catalogue",
        platform.trim_end_matches('/')
    ))
    .await?;
    let uri = cat["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["provider"] == provider))
        .and_then(|i| i["provider_jwks_uri"].as_str())
        .ok_or_else(|| format!("the catalogue has no provider {provider}"))?
        .to_string();
    let jwks = get(uri).await?;
    serde_json::from_value(jwks["keys"].clone())
        .map_err(|_| "the provider's keys are malformed".into())
}

/// Serve the providers on `listener`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    platform_jwks_url: String,
) -> anyhow::Result<()> {
    axum::serve(listener, router(&platform_jwks_url)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_stable_and_match_their_schema() {
        for (dept, _, _) in super::DEPARTMENTS {
            for item in super::items(dept).as_array().unwrap() {
                let id = item["item"].as_str().unwrap();
                let mut seen = 0;
                for n in 0..50 {
                    let hkid = format!("A{:06}(3)", n);
                    let a = super::record(dept, id, &hkid);
                    assert_eq!(a, super::record(dept, id, &hkid), "stable");
                    if let Some(a) = a {
                        seen += 1;
                        for req in item["schema"]["required"].as_array().unwrap() {
                            assert!(
                                a.get(req.as_str().unwrap()).is_some(),
                                "{dept}/{id} lacks {req}"
                            );
                        }
                    }
                }
                assert!(seen > 5, "{dept}/{id} holds records for some residents");
            }
        }
    }
}
