//! Personal dealings: everything a resident did with every service (logins, data released by
//! e-ME, consents given and changed, exchanges through the gateway, signatures), grouped per
//! service, each with the consent behind it. Built from the audit log (which the transparency
//! log covers) and the gateway's metadata-only message log; no payload is ever here.
use super::consents::{self, ConsentView};
use super::Exchange;
use crate::error::Result;
use iamsmart_proto::ids::DataConsentId;
use serde::Serialize;
use std::collections::BTreeMap;

/// One dealing.
#[derive(Debug, Clone, Serialize)]
pub struct Dealing {
    /// When (Unix ms).
    pub at: i64,
    /// `login`, `data_release`, `consent`, `consent_change`, `exchange`, `eme`, `signature`,
    /// `notification` (sent; never its content), `notifications_on`, `notifications_off`.
    pub kind: String,
    /// The data items or fields concerned (names, never values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// `ok`, `none`, `refused`, `provider_error`, or a new consent status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// More about it (a refusal's reason, the form's name, the level of assurance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The consent behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    /// The data provider (exchanges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Position in the transparency log (events that are in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_seq: Option<i64>,
}

/// A service and everything done with it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDealings {
    /// The service's client id.
    pub client_id: String,
    /// Its name (English).
    pub service: String,
    /// Its name in every language registered.
    pub service_names: iamsmart_proto::i18n::Localized,
    /// The most recent dealing (Unix ms).
    pub last_at: i64,
    /// Its gateway consents.
    pub consents: Vec<ConsentView>,
    /// Dealings, newest first.
    pub dealings: Vec<Dealing>,
}

/// (seq, at, kind, detail)
/// (kind, consent, client, provider, items, at, outcome, detail)
type LogRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    i64,
    String,
    Option<String>,
);

const LIMIT: i64 = 5000;

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every dealing of a resident, per service, the most recent service first.
pub async fn for_resident(p: &Exchange, resident_id: &str) -> Result<Vec<ServiceDealings>> {
    let subject = format!("resident:{resident_id}");
    let audit = crate::audit::about(
        &p.db,
        &subject,
        crate::audit::About::Newest {
            kind: None,
            limit: LIMIT,
        },
    )
    .await?;
    let log: Vec<LogRow> = sqlx::query_as(
        "SELECT kind, consent_id, client_id, provider_id, items, at, outcome, detail FROM exchange_log WHERE resident_id = $1 ORDER BY at DESC LIMIT $2",
    )
    .bind(resident_id)
    .bind(LIMIT)
    .fetch_all(p.db.reader())
    .await?;
    let data_consents = consents::for_resident(p, resident_id).await?;
    let mut by_client: BTreeMap<String, Vec<Dealing>> = BTreeMap::new();
    for crate::audit::SubjectEntry {
        seq,
        at,
        kind,
        detail,
        ..
    } in audit
    {
        let d: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
        let consent = d["consent"].as_str().map(str::to_string);
        let client = match d["client"].as_str() {
            Some(c) => c.to_string(),
            None => match consent
                .as_ref()
                .and_then(|c| data_consents.iter().find(|x| x.consent_id.as_str() == c))
            {
                Some(c) => c.client_id.to_string(),
                None => continue,
            },
        };
        let (kind, items, outcome, detail) = match kind.as_str() {
            "login.authorized" => (
                "login",
                strings(&d["fields"]),
                None,
                d["acr"].as_str().map(|a| format!("level {a}")),
            ),
            "consent.revoked" => (
                "consent_change",
                strings(&d["fields"]),
                Some(super::consents::ConsentStatus::Revoked.as_str().to_string()),
                None,
            ),
            "data_consent.granted" => (
                "consent",
                vec![],
                Some(super::consents::ConsentStatus::Active.as_str().to_string()),
                None,
            ),
            "data_consent.status" => (
                "consent_change",
                vec![],
                d["status"].as_str().map(str::to_string),
                None,
            ),
            "signature.created" | "signing.signed" => (
                "signature",
                strings(&d["documents"]),
                None,
                d["document"].as_str().map(str::to_string),
            ),
            // What was sent is the resident's to read in the inbox; here only that it was sent.
            "notification.sent" => ("notification", vec![], None, None),
            "notify.preference" => (
                if d["enabled"] == true {
                    "notifications_on"
                } else {
                    "notifications_off"
                },
                vec![],
                None,
                None,
            ),
            // e-ME releases are listed from the message log, which names the form.
            _ => continue,
        };
        by_client.entry(client).or_default().push(Dealing {
            at,
            kind: kind.into(),
            items,
            outcome,
            detail,
            consent_id: consent,
            provider: None,
            log_seq: Some(seq),
        });
    }
    for (kind, consent, client, provider, items, at, outcome, detail) in log {
        let items: Vec<String> = serde_json::from_str(&items).unwrap_or_default();
        let is_eme = kind == "eme";
        by_client.entry(client).or_default().push(Dealing {
            at,
            kind: if is_eme {
                "eme".into()
            } else {
                "exchange".into()
            },
            items,
            outcome: Some(outcome),
            detail,
            consent_id: if is_eme { None } else { consent },
            provider,
            log_seq: None,
        });
    }
    for c in &data_consents {
        by_client.entry(c.client_id.to_string()).or_default();
    }
    let mut out = Vec::with_capacity(by_client.len());
    let ids: Vec<&str> = by_client.keys().map(String::as_str).collect();
    let services = crate::oidc::clients::names_of(p, &ids).await?;
    for (client_id, mut dealings) in by_client {
        dealings.sort_by_key(|d| std::cmp::Reverse(d.at));
        let service = crate::oidc::clients::ServiceNames::of(&services, &client_id);
        let consents: Vec<ConsentView> = data_consents
            .iter()
            .filter(|c| c.client_id == client_id)
            .cloned()
            .collect();
        let last_at = dealings
            .first()
            .map(|d| d.at)
            .into_iter()
            .chain(consents.iter().map(|c| c.created_at))
            .max()
            .unwrap_or(0);
        out.push(ServiceDealings {
            service_names: service.names,
            service: service.name,
            client_id,
            last_at,
            consents,
            dealings,
        });
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.last_at));
    Ok(out)
}

/// A consent's receipt: the signed artefact, its hash, and the transparency log's entry that
/// records it, with its salt and an inclusion proof in a signed tree head (the public log shows
/// only the salted hash).
pub async fn receipt(
    p: &Exchange,
    resident_id: &str,
    consent_id: &DataConsentId,
) -> Result<serde_json::Value> {
    let owner: Option<String> =
        sqlx::query_scalar("SELECT resident_id FROM data_consents WHERE id = $1")
            .bind(consent_id)
            .fetch_optional(p.db.reader())
            .await?;
    if owner.as_deref() != Some(resident_id) {
        return Err(crate::error::DomainError::NotFound);
    }
    let v = consents::get(p, consent_id).await?;
    let Some(artefact) = v.artefact.clone() else {
        return Err(crate::error::DomainError::Refused {
            code: "no-receipt",
            message: "this consent was never given, so it has no receipt",
        });
    };
    let hash = hex::encode(iamsmart_crypto::hash::sha256(artefact.as_bytes()));
    let granted = crate::audit::about(
        &p.db,
        &format!("resident:{resident_id}"),
        crate::audit::About::Newest {
            kind: Some("data_consent.granted"),
            limit: LIMIT,
        },
    )
    .await?;
    let seq = granted.into_iter().find_map(|e| {
        let d: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
        (d["consent"].as_str() == Some(consent_id.as_str())).then_some(e.seq)
    });
    Ok(serde_json::json!({
        "type": "iamsmart-consent-receipt",
        "consent": v,
        "artefact": artefact,
        "artefact_sha256": hash,
        "transparency_log": match seq {
            Some(s) => Some(crate::audit::proven_entry(&p.db, &p.keys, s as u64).await?),
            None => None,
        },
        "log_keys": p.oidc.provider.policy.url("/transparency/v1/keys"),
        "keys": p.oidc.provider.policy.url("/.well-known/jwks.json"),
    }))
}
