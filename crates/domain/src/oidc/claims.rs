//! Scopes, claims, consent and subject identifiers.
//!
//! Each e-ME field is released only when the resident consented to it for that client; a
//! consent is remembered per client and field and can be revoked. Subjects are pairwise per
//! sector: HMAC of the sector and the resident id under the platform's index key, so two
//! services cannot correlate a resident, and nobody can reverse a subject without the key.
use crate::env::Env;
use crate::error::Result;
use crate::identity::Resident;
use crate::oidc::Oidc;
use iamsmart_proto::profile::{Address, Phone};
use iamsmart_store::AnyConnection;
use serde_json::{Map, Value};

/// Every e-ME field that can be released.
pub const FIELDS: [&str; 14] = [
    "hkid",
    "prefix",
    "name_en",
    "name_zh",
    "birthdate",
    "gender",
    "marital_status",
    "home_tel",
    "office_tel",
    "mobile",
    "email",
    "residential_address",
    "postal_address",
    "education_level",
];

/// Scopes the provider knows, besides one `eme.<field>` scope per field.
pub const SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
];

/// The fields a scope asks for.
pub fn fields_of_scope(scope: &str) -> Option<Vec<&'static str>> {
    Some(match scope {
        "openid" | "offline_access" => vec![],
        "profile" => vec!["name_en", "name_zh", "gender", "birthdate"],
        "email" => vec!["email"],
        "phone" => vec!["mobile"],
        "address" => vec!["residential_address"],
        s => {
            let f = s.strip_prefix("eme.")?;
            vec![*FIELDS.iter().find(|x| **x == f)?]
        }
    })
}

/// Every scope the provider supports (for discovery).
pub fn supported_scopes() -> Vec<String> {
    SCOPES
        .iter()
        .map(|s| s.to_string())
        .chain(FIELDS.iter().map(|f| format!("eme.{f}")))
        .collect()
}

/// Parse a scope string: (scopes, the fields they ask for). Unknown scopes are an error.
pub fn parse_scope(scope: &str) -> std::result::Result<(Vec<String>, Vec<&'static str>), String> {
    let mut scopes: Vec<String> = Vec::new();
    let mut fields: Vec<&'static str> = Vec::new();
    if scope.len() > 2000 {
        return Err("scope is too long".into());
    }
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        let f = fields_of_scope(s)
            .ok_or_else(|| format!("unknown scope {:?}", s.chars().take(40).collect::<String>()))?;
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
        for x in f {
            if !fields.contains(&x) {
                fields.push(x);
            }
        }
    }
    if scopes.len() > 40 {
        return Err("too many scopes".into());
    }
    Ok((scopes, fields))
}

/// The sector of public subjects (every client with `subject_type` `public` gets the same
/// subject for a resident). No host is empty, so it cannot be a pairwise sector.
pub const PUBLIC_SECTOR: &str = "";

/// The subject identifier of a resident for a client sector ([`PUBLIC_SECTOR`] for public
/// subjects): a keyed hash, so that no subject is the platform's internal id (which appears in
/// the platform's own records) and none can be computed without the platform's key.
pub fn subject(p: &Oidc, sector: &str, resident_id: &str) -> String {
    use base64::Engine;
    let mac = p.vault.blind_index(&format!("sub:{sector}"), resident_id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..24])
}

/// Remember a subject given to a client (pairwise or public) so that hints (CIBA, pushed
/// requests, notifications) can be resolved.
pub async fn remember_subject(
    conn: &mut AnyConnection,
    sector: &str,
    sub: &str,
    resident_id: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO subjects (sector, sub, resident_id) VALUES ($1, $2, $3) ON CONFLICT (sector, sub) DO NOTHING")
        .bind(sector)
        .bind(sub)
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The resident behind a subject of a sector (one the platform gave out in that sector).
pub async fn resident_of_subject(p: &Env, sector: &str, sub: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT resident_id FROM subjects WHERE sector = $1 AND sub = $2")
            .bind(sector)
            .bind(sub)
            .fetch_optional(p.db.reader())
            .await?,
    )
}

/// Fields the resident consented to for a client (and has not revoked).
pub async fn consented(
    p: &Env,
    resident_id: &str,
    client_id: &iamsmart_proto::ids::ClientId,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT field FROM consents WHERE resident_id = $1 AND client_id = $2 AND revoked_at IS NULL ORDER BY field",
    )
    .bind(resident_id)
    .bind(client_id)
    .fetch_all(p.db.reader())
    .await?)
}

/// The services a resident signed in to or released data to (grants, remembered consents), by
/// client id, whatever their status.
pub async fn clients_used_by(p: &Env, resident_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT client_id FROM grants WHERE resident_id = $1
         UNION SELECT client_id FROM consents WHERE resident_id = $1",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?)
}

/// A resident's remembered consents, per service.
pub async fn list_consents(p: &Env, resident_id: &str) -> Result<Vec<serde_json::Value>> {
    let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
        "SELECT c.client_id, k.name, c.field, c.granted_at, k.metadata FROM consents c JOIN clients k ON k.id = c.client_id
         WHERE c.resident_id = $1 AND c.revoked_at IS NULL ORDER BY c.client_id, c.field",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?;
    let mut out: Vec<serde_json::Value> = Vec::new();
    for (client, name, field, at, stored) in rows {
        match out.last_mut().filter(|v| v["client_id"] == client.as_str()) {
            Some(v) => {
                if let Some(a) = v["fields"].as_array_mut() {
                    a.push(field.into());
                }
                if v["granted_at"].as_i64().unwrap_or(0) < at {
                    v["granted_at"] = at.into();
                }
            }
            None => out.push(serde_json::json!({
                "service_names": super::clients::names_from_stored(Some(&stored), &name),
                "client_id": client, "service": name, "fields": [field], "granted_at": at,
            })),
        }
    }
    Ok(out)
}

/// Record consent to `fields` for a client, inside the caller's transaction.
pub async fn record_consent(
    conn: &mut AnyConnection,
    resident_id: &str,
    client_id: &iamsmart_proto::ids::ClientId,
    fields: &[String],
    now: i64,
) -> Result<()> {
    for f in fields {
        sqlx::query(
            "INSERT INTO consents (resident_id, client_id, field, granted_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (resident_id, client_id, field) DO UPDATE SET granted_at = $4, revoked_at = NULL",
        )
        .bind(resident_id)
        .bind(client_id)
        .bind(f)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Revoke consents (all of a client's, or the given fields). Grants that released a revoked
/// field stop working at once.
pub async fn revoke_consent(
    p: &Env,
    resident_id: &str,
    client_id: &iamsmart_proto::ids::ClientId,
    fields: Option<&[String]>,
    request_id: Option<&str>,
) -> Result<u64> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let n = match fields {
        None => sqlx::query("UPDATE consents SET revoked_at = $1 WHERE resident_id = $2 AND client_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(resident_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        Some(fs) => {
            let mut n = 0;
            for f in fs {
                n += sqlx::query("UPDATE consents SET revoked_at = $1 WHERE resident_id = $2 AND client_id = $3 AND field = $4 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(resident_id)
                    .bind(client_id)
                    .bind(f)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            n
        }
    };
    sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = 'consent revoked' WHERE resident_id = $2 AND client_id = $3 AND revoked_at IS NULL AND claims <> '[]'")
        .bind(now)
        .bind(resident_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
    let subject = format!("resident:{resident_id}");
    crate::audit::append(
        &mut tx,
        now,
        request_id,
        &crate::audit::Event {
            kind: "consent.revoked",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client_id, "fields": fields }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

fn phone(p: &Option<Phone>) -> Option<Value> {
    p.as_ref()
        .map(|p| Value::String(format!("+{}{}", p.country_code, p.subscriber_number)))
}

fn address(a: &Option<Address>) -> Option<Value> {
    let a = a.as_ref()?;
    let street: Vec<String> = [
        a.flat.as_ref().map(|f| format!("Flat {f}")),
        a.floor.as_ref().map(|f| format!("{f}/F")),
        a.block.as_ref().map(|b| format!("Block {b}")),
        a.building.clone(),
        a.estate.clone(),
        match (&a.street_number, &a.street) {
            (Some(n), Some(s)) => Some(format!("{n} {s}")),
            (None, Some(s)) => Some(s.clone()),
            _ => None,
        },
    ]
    .into_iter()
    .flatten()
    .collect();
    let region = match a.region.as_deref() {
        Some("HK") => Some("Hong Kong Island"),
        Some("KLN") => Some("Kowloon"),
        Some("NT") => Some("New Territories"),
        _ => None,
    };
    let mut formatted = street.clone();
    formatted.extend(a.district.clone());
    formatted.extend(region.map(str::to_string));
    formatted.push("Hong Kong".into());
    Some(serde_json::json!({
        "formatted": formatted.join(", "),
        "street_address": street.join(", "),
        "locality": a.district,
        "region": region,
        "country": "HK",
        "iamsmart_structured": a,
    }))
}

/// The claims of `fields` for a resident. Only the named fields appear.
pub fn release(r: &Resident, fields: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    let v = &r.verified;
    let pr = &r.profile;
    for f in fields {
        let (name, value) = match f.as_str() {
            "hkid" => ("hkid", Some(Value::String(v.hkid.clone()))),
            "prefix" => ("prefix", pr.prefix.clone().map(Value::String)),
            "name_en" => ("name", Some(Value::String(v.name_en.clone()))),
            "name_zh" => ("name#zh-Hant-HK", v.name_zh.clone().map(Value::String)),
            "birthdate" => ("birthdate", Some(Value::String(v.date_of_birth.clone()))),
            "gender" => (
                "gender",
                v.gender.as_deref().map(|g| {
                    Value::String(match g {
                        "M" => "male".into(),
                        "F" => "female".into(),
                        _ => "other".into(),
                    })
                }),
            ),
            "marital_status" => (
                "marital_status",
                pr.marital_status.clone().map(Value::String),
            ),
            "home_tel" => ("home_tel", phone(&pr.home_tel)),
            "office_tel" => ("office_tel", phone(&pr.office_tel)),
            "mobile" => ("phone_number", phone(&pr.mobile)),
            "email" => ("email", pr.email.clone().map(Value::String)),
            "residential_address" => ("address", address(&pr.residential_address)),
            "postal_address" => ("postal_address", address(&pr.postal_address)),
            "education_level" => (
                "education_level",
                pr.education_level.clone().map(Value::String),
            ),
            _ => continue,
        };
        if let Some(value) = value {
            m.insert(name.into(), value);
        }
    }
    m
}

/// The claim names a field may produce (for checks and documentation).
pub fn claim_names(field: &str) -> &'static [&'static str] {
    match field {
        "hkid" => &["hkid"],
        "prefix" => &["prefix"],
        "name_en" => &["name"],
        "name_zh" => &["name#zh-Hant-HK"],
        "birthdate" => &["birthdate"],
        "gender" => &["gender"],
        "marital_status" => &["marital_status"],
        "home_tel" => &["home_tel"],
        "office_tel" => &["office_tel"],
        "mobile" => &["phone_number"],
        "email" => &["email"],
        "residential_address" => &["address"],
        "postal_address" => &["postal_address"],
        "education_level" => &["education_level"],
        _ => &[],
    }
}

/// Fields released for a request: those asked for AND agreed to, never more.
pub fn released_fields(requested: &[&str], agreed: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|f| agreed.iter().any(|a| a == *f))
        .map(|f| f.to_string())
        .collect()
}

/// Fields named in an approval's `agreed` value (a JSON array of field names, or an object with
/// a `fields` array). Unknown names are dropped.
pub fn agreed_fields(agreed: &Value) -> Vec<String> {
    let list = agreed.get("fields").unwrap_or(agreed);
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|f| FIELDS.contains(f))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamsmart_proto::profile::{Profile, VerifiedIdentity};
    use proptest::prelude::*;

    fn resident() -> Resident {
        Resident {
            id: "r_1".into(),
            verified: VerifiedIdentity {
                hkid: "A123456(3)".into(),
                name_en: "CHAN, Tai Man".into(),
                name_zh: Some("陳大文".into()),
                date_of_birth: "1980-02-29".into(),
                gender: Some("M".into()),
            },
            profile: Profile {
                prefix: Some("Mr".into()),
                marital_status: Some("married".into()),
                home_tel: Some(Phone {
                    country_code: "852".into(),
                    subscriber_number: "23456789".into(),
                }),
                office_tel: Some(Phone {
                    country_code: "852".into(),
                    subscriber_number: "34567890".into(),
                }),
                mobile: Some(Phone {
                    country_code: "852".into(),
                    subscriber_number: "91234567".into(),
                }),
                email: Some("chan@example.hk".into()),
                residential_address: Some(Address {
                    building: Some("Canary Court".into()),
                    district: Some("Sha Tin".into()),
                    region: Some("NT".into()),
                    ..Address::default()
                }),
                postal_address: Some(Address {
                    street: Some("Nathan Road".into()),
                    ..Address::default()
                }),
                education_level: Some("degree".into()),
            },
            level: iamsmart_proto::profile::Level::Basic,
            status: iamsmart_proto::profile::AccountStatus::Active,
            channel: "app".into(),
            created_at: 0,
        }
    }

    #[test]
    fn scopes_map_to_fields_and_unknown_scopes_are_refused() {
        let (s, f) = parse_scope("openid profile eme.hkid  eme.hkid").unwrap();
        assert_eq!(s, ["openid", "profile", "eme.hkid"]);
        assert_eq!(f, ["name_en", "name_zh", "gender", "birthdate", "hkid"]);
        assert!(parse_scope("openid admin").is_err());
        assert!(parse_scope("eme.password").is_err());
    }

    proptest! {
        /// A token never carries more than was consented: every released claim belongs to a
        /// field that was both requested and agreed to.
        #[test]
        fn never_more_than_consented(req in proptest::sample::subsequence(FIELDS.to_vec(), 0..=14),
                                     agreed in proptest::sample::subsequence(FIELDS.to_vec(), 0..=14)) {
            let agreed: Vec<String> = agreed.iter().map(|s| s.to_string()).collect();
            let fields = released_fields(&req, &agreed);
            let claims = release(&resident(), &fields);
            for name in claims.keys() {
                let owner = FIELDS.iter().find(|f| claim_names(f).contains(&name.as_str())).unwrap();
                prop_assert!(req.contains(owner) && agreed.iter().any(|a| a == owner), "{} released", name);
            }
            for f in &fields {
                prop_assert!(claim_names(f).iter().all(|n| claims.contains_key(*n)));
            }
        }
    }
}
