//! The transparency log over HTTP (RFC 9162 style): signed tree heads, inclusion and
//! consistency proofs, the entries' commitments (leaf hashes: an entry itself goes only to the
//! resident it concerns and to operators), and the log's public keys.
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use iamsmart_domain::audit;
use iamsmart_domain::keys::Purpose;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/transparency/v1/tree-head", get(tree_head))
        .route("/transparency/v1/inclusion", get(inclusion))
        .route("/transparency/v1/consistency", get(consistency))
        .route("/transparency/v1/entries", get(entries))
        .route("/transparency/v1/keys", get(keys))
        .route("/admin/v1/audit/entries", get(full_entries))
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
}

/// The latest signed tree head (a new one is signed if entries were added since).
async fn tree_head(State(s): State<AppState>) -> ApiResult<Json<audit::TreeHead>> {
    Ok(Json(
        audit::publish_tree_head(&s.platform.db, &s.platform.keys).await?,
    ))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    tree_size: u64,
}

async fn inclusion(
    State(s): State<AppState>,
    q: Query<InclusionQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let (leaf, path) = audit::inclusion_proof(&s.platform.db, q.index, q.tree_size).await?;
    Ok(Json(serde_json::json!({
        "leaf_index": q.index,
        "tree_size": q.tree_size,
        "leaf_hash": b64(&leaf),
        "audit_path": path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    first: u64,
    second: u64,
}

async fn consistency(
    State(s): State<AppState>,
    q: Query<ConsistencyQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let proof = audit::consistency_proof(&s.platform.db, q.first, q.second).await?;
    Ok(Json(serde_json::json!({
        "first": q.first,
        "second": q.second,
        "consistency_path": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct EntriesQuery {
    start: u64,
    end: u64,
}

/// The public view: each entry's position and leaf hash (a salted commitment).
async fn entries(
    State(s): State<AppState>,
    q: Query<EntriesQuery>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    if q.end < q.start {
        return Err(ApiError::bad_request("end must not be before start"));
    }
    let out = audit::commitments(&s.platform.db, q.start, q.end)
        .await?
        .into_iter()
        .map(|(seq, leaf)| serde_json::json!({ "seq": seq, "leaf_hash": b64(&leaf) }))
        .collect();
    Ok(Json(out))
}

/// The entries themselves, with their salts: for operators.
async fn full_entries(
    State(s): State<AppState>,
    _op: super::admin::Operator,
    q: Query<EntriesQuery>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    if q.end < q.start {
        return Err(ApiError::bad_request("end must not be before start"));
    }
    let out = audit::entries(&s.platform.db, q.start, q.end)
        .await?
        .into_iter()
        .map(|e| {
            let salt = e.salt.as_deref().map(b64);
            serde_json::json!({ "entry": e, "salt": salt, "leaf_hash": b64(&e.leaf_hash()) })
        })
        .collect();
    Ok(Json(out))
}

/// Every key that ever signed tree heads (old ones stay, so old heads stay verifiable).
async fn keys(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let keys: Vec<_> = s
        .platform
        .keys
        .all(Purpose::Log)
        .await?
        .into_iter()
        .filter_map(|k| k.public_jwk)
        .collect();
    Ok(Json(serde_json::json!({ "keys": keys })))
}
