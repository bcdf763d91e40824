//! Form filling (e-ME) through the compatible API, without a login: `anonymous/eme/initiateRequest`
//! starts an e-ME request that any resident may scan (the same request, approval and release as
//! `/eme/v1/requests`, `exchange::eme`), and `anonymous/eme/getResult` hands the fields out once,
//! in the real API's names and shapes.
use super::{ApiCode, ApiError, ApiResult};
use crate::exchange::eme::{self, EmeRequest, Form};
use crate::exchange::Exchange;
use crate::oidc::clients::Client;
use iamsmart_proto::ids::EmeRequestId;
use iamsmart_proto::profile::{Address, Phone};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The real API's field names and the platform's.
pub const FIELDS: [(&str, &str); 15] = [
    ("idNo", "hkid"),
    ("prefix", "prefix"),
    ("enName", "name_en"),
    ("chName", "name_zh"),
    ("chNameVerified", "name_zh"),
    ("birthDate", "birthdate"),
    ("gender", "gender"),
    ("maritalStatus", "marital_status"),
    ("homeTelNumber", "home_tel"),
    ("officeTelNumber", "office_tel"),
    ("mobileNumber", "mobile"),
    ("emailAddress", "email"),
    ("residentialAddress", "residential_address"),
    ("postalAddress", "postal_address"),
    ("educationLevel", "education_level"),
];

pub(super) fn platform_field(api: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(a, _)| *a == api).map(|(_, f)| *f)
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiCode::InvalidRequest, m)
}

pub(super) fn text<'a>(
    v: &'a Option<String>,
    name: &str,
    max: usize,
) -> ApiResult<Option<&'a str>> {
    match v.as_deref() {
        Some(t)
            if t.trim().is_empty()
                || t.chars().count() > max
                || t.chars().any(char::is_control) =>
        {
            Err(bad(format!("{name}: 1 to {max} printable characters")))
        }
        other => Ok(other),
    }
}

/// The body of `anonymous/eme/initiateRequest` (inside `content`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartRequest {
    #[serde(rename = "businessID")]
    business_id: Option<String>,
    source: String,
    form_name: String,
    form_num: Option<String>,
    form_desc: Option<String>,
    #[serde(rename = "eMEFields")]
    eme_fields: Vec<String>,
    // Accepted as real clients send them; this flow answers through getResult, not a browser.
    #[serde(rename = "redirectURI")]
    _redirect_uri: Option<String>,
    #[serde(rename = "state")]
    _state: Option<String>,
    #[serde(rename = "lang")]
    _lang: Option<String>,
}

/// `POST /api/v1/anonymous/eme/initiateRequest`: a request for the fields of a form that the
/// service shows as a QR code (with its match code); any resident may scan it and approve.
pub async fn anonymous_start(p: &Exchange, client: &Client, body: &[u8]) -> ApiResult<Value> {
    let req: StartRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let business_id = text(&req.business_id, "businessID", 64)?;
    if !super::login::source_ok(&req.source) {
        return Err(bad("source must be PC_Browser, Android_<browser>, iOS_<browser>, App_Link, App_Package or App_Scheme"));
    }
    if req.eme_fields.is_empty() || req.eme_fields.len() > FIELDS.len() {
        return Err(bad("eMEFields: ask for 1 to 15 fields"));
    }
    let mut fields: Vec<String> = Vec::new();
    for f in &req.eme_fields {
        let ours = platform_field(f).ok_or_else(|| {
            bad(format!(
                "eMEFields: unknown field {:?}; known: {}",
                f.chars().take(40).collect::<String>(),
                FIELDS.map(|(a, _)| a).join(", ")
            ))
        })?;
        if !fields.iter().any(|x| x == ours) {
            fields.push(ours.to_string());
        }
    }
    let started = eme::start(
        p,
        client,
        EmeRequest {
            login_hint: None,
            form: Form {
                name: req.form_name,
                number: req.form_num,
                description: req.form_desc,
            },
            fields,
            optional_fields: vec![],
        },
    )
    .await
    .map_err(|e| match e {
        crate::error::DomainError::Invalid { field, message } => bad(format!("{field}: {message}")),
        other => other.into(),
    })?;
    let mut answer = json!({
        "ticketID": started.request_id,
        "authByQR": true,
        "qrCode": started.qr,
        "matchCode": started.match_code,
        "expiresAt": started.expires_at,
    });
    if let Some(b) = business_id {
        answer["businessID"] = Value::String(b.to_string());
    }
    Ok(answer)
}

/// The body of `anonymous/eme/getResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResultRequest {
    #[serde(rename = "ticketID")]
    ticket_id: String,
    #[serde(rename = "businessID")]
    business_id: Option<String>,
}

/// `POST /api/v1/anonymous/eme/getResult`: `status` `PENDING` or `SCANNED` while the resident
/// has not answered; `APPROVED` with `eMEFields` once (a later call is refused); `D40001` when
/// the resident declined, `D40003` when nobody answered in time.
pub async fn anonymous_result(p: &Exchange, client: &Client, body: &[u8]) -> ApiResult<Value> {
    let req: ResultRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let id = EmeRequestId::parse(&req.ticket_id).map_err(|_| bad("ticketID is unknown"))?;
    let out = eme::outcome(p, client, &id).await.map_err(|e| match e {
        crate::error::DomainError::NotFound => bad("ticketID is unknown"),
        other => other.into(),
    })?;
    let mut answer = json!({ "ticketID": id });
    if let Some(b) = text(&req.business_id, "businessID", 64)? {
        answer["businessID"] = Value::String(b.to_string());
    }
    match out.status.as_str() {
        "pending" | "scanned" => {
            answer["status"] = Value::String(out.status.to_ascii_uppercase());
            Ok(answer)
        }
        "denied" => Err(ApiError::new(
            ApiCode::UserRejected,
            out.reason.unwrap_or_else(|| "the resident declined".into()),
        )),
        "expired" => Err(ApiError::new(
            ApiCode::Timeout,
            "the resident did not answer in time",
        )),
        "approved" => {
            let resident_id = out
                .resident_id
                .ok_or_else(|| ApiError::from(ApiCode::ServerError))?;
            let resident = crate::identity::get(&p.identity, &resident_id).await?;
            answer["status"] = Value::String("APPROVED".into());
            answer["eMEFields"] = Value::Object(values(&resident, &out.fields));
            Ok(answer)
        }
        _ => Err(bad(
            "the result was handed out before: each result is given once",
        )),
    }
}

/// The released fields in the real API's names and shapes. `chNameVerified` is `true` with a
/// Chinese name (every name here is the registry's).
pub fn values(r: &crate::identity::Resident, released: &[String]) -> Map<String, Value> {
    let v = &r.verified;
    let pr = &r.profile;
    let mut m = Map::new();
    for (api, ours) in FIELDS {
        if !released.iter().any(|f| f == ours) {
            continue;
        }
        let value = match api {
            "idNo" => Some(hkid(&v.hkid)),
            "prefix" => pr.prefix.clone().map(Value::String),
            "enName" => Some(json!({ "UnstructuredName": v.name_en })),
            "chName" => v.name_zh.as_ref().map(|n| json!({ "ChineseName": n })),
            "chNameVerified" => Some(Value::Bool(v.name_zh.is_some())),
            "birthDate" => Some(Value::String(v.date_of_birth.replace('-', ""))),
            "gender" => v.gender.clone().map(Value::String),
            "maritalStatus" => pr.marital_status.clone().map(Value::String),
            "homeTelNumber" => pr.home_tel.as_ref().map(phone),
            "officeTelNumber" => pr.office_tel.as_ref().map(phone),
            "mobileNumber" => pr.mobile.as_ref().map(phone),
            "emailAddress" => pr.email.clone().map(Value::String),
            "residentialAddress" => pr.residential_address.as_ref().map(address),
            "postalAddress" => pr.postal_address.as_ref().map(address),
            "educationLevel" => pr.education_level.clone().map(Value::String),
            _ => None,
        };
        if let Some(value) = value {
            m.insert(api.to_string(), value);
        }
    }
    m
}

/// `A123456(7)` as `{Identification: "A123456", CheckDigit: "7"}`.
fn hkid(display: &str) -> Value {
    let (id, digit) = display
        .split_once('(')
        .map(|(i, d)| (i, d.trim_end_matches(')')))
        .unwrap_or((display, ""));
    json!({ "Identification": id, "CheckDigit": digit })
}

fn phone(p: &Phone) -> Value {
    json!({ "CountryCode": p.country_code, "SubscriberNumber": p.subscriber_number })
}

/// An address after the HK Interoperability Framework's address schema (English premises
/// address), with only the parts the resident gave.
fn address(a: &Address) -> Value {
    let mut premises = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            premises.insert(k.to_string(), v);
        }
    };
    let floor = a.floor.as_ref().map(|f| json!({ "FloorNum": f }));
    let unit = a
        .flat
        .as_ref()
        .map(|f| json!({ "UnitDescriptor": "Flat", "UnitNo": f }));
    if floor.is_some() || unit.is_some() {
        let mut three_d = Map::new();
        if let Some(f) = floor {
            three_d.insert("EngFloor".into(), f);
        }
        if let Some(u) = unit {
            three_d.insert("EngUnit".into(), u);
        }
        put("Eng3dAddress", Some(Value::Object(three_d)));
    }
    put(
        "EngBlock",
        a.block
            .as_ref()
            .map(|b| json!({ "BlockDescriptor": "Block", "BlockNo": b })),
    );
    put("BuildingName", a.building.clone().map(Value::String));
    put(
        "EngEstate",
        a.estate.as_ref().map(|e| json!({ "EstateName": e })),
    );
    if a.street.is_some() || a.street_number.is_some() {
        let mut street = Map::new();
        if let Some(s) = &a.street {
            street.insert("StreetName".into(), Value::String(s.clone()));
        }
        if let Some(n) = &a.street_number {
            street.insert("BuildingNoFrom".into(), Value::String(n.clone()));
        }
        put("EngStreet", Some(Value::Object(street)));
    }
    put(
        "EngDistrict",
        a.district.as_ref().map(|d| json!({ "DcDistrict": d })),
    );
    put("Region", a.region.clone().map(Value::String));
    json!({ "EngPremisesAddress": premises })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hkid_a_phone_and_an_address_take_the_real_api_s_shapes() {
        assert_eq!(
            hkid("A123456(7)"),
            json!({ "Identification": "A123456", "CheckDigit": "7" })
        );
        assert_eq!(
            phone(&Phone {
                country_code: "852".into(),
                subscriber_number: "91234567".into()
            }),
            json!({ "CountryCode": "852", "SubscriberNumber": "91234567" })
        );
        let a = Address {
            flat: Some("12A".into()),
            building: Some("Canary Court".into()),
            street: Some("Canary Road".into()),
            district: Some("Sha Tin".into()),
            region: Some("NT".into()),
            ..Address::default()
        };
        assert_eq!(
            address(&a),
            json!({ "EngPremisesAddress": {
                "Eng3dAddress": { "EngUnit": { "UnitDescriptor": "Flat", "UnitNo": "12A" } },
                "BuildingName": "Canary Court",
                "EngStreet": { "StreetName": "Canary Road" },
                "EngDistrict": { "DcDistrict": "Sha Tin" },
                "Region": "NT" } })
        );
    }

    #[test]
    fn every_field_of_the_real_api_names_a_field_of_the_platform() {
        for (api, ours) in FIELDS {
            assert!(
                crate::oidc::claims::FIELDS.contains(&ours),
                "{api} -> {ours}"
            );
        }
    }
}
