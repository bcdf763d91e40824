//! Clients (online services): registration by an operator or through dynamic registration
//! (RFC 7591/7592), their metadata and rules, and their keys.
//!
//! Profiles: `fapi2` (the default) requires PAR, PKCE S256, `private_key_jwt` and DPoP-bound
//! tokens; `basic` allows `client_secret_basic` or `private_key_jwt` with PKCE S256, for small
//! services. Subjects are pairwise per sector (the redirect URIs' host) unless the operator
//! approved public subjects for a government client that needs them.
use super::error::{OAuthError, OResult};
use crate::audit::{self, Event};
use crate::error::DomainError;
use crate::platform::Platform;
use iamsmart_crypto::jose::{Alg, PublicJwk};
use iamsmart_proto::i18n::{Localized, ServiceDetails};
use iamsmart_store::Row;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// Grant type of CIBA.
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Registered metadata (RFC 7591 names, plus `iamsmart_profile`). Metadata the provider does
/// not use is ignored, as RFC 7591 section 2 requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Name shown to residents (English).
    pub client_name: String,
    /// The name in Traditional Chinese (RFC 7591 section 2.2 language tag; `zh-HK` and
    /// `zh-Hant-HK` are taken as the same).
    #[serde(
        rename = "client_name#zh-Hant",
        alias = "client_name#zh-HK",
        alias = "client_name#zh-Hant-HK",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_name_zh_hant: Option<String>,
    /// The name in Simplified Chinese.
    #[serde(
        rename = "client_name#zh-Hans",
        alias = "client_name#zh-CN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_name_zh_hans: Option<String>,
    /// The department or organisation that runs the service (English), shown with its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_department: Option<String>,
    /// The department or organisation in Traditional Chinese.
    #[serde(
        rename = "iamsmart_department#zh-Hant",
        alias = "iamsmart_department#zh-HK",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub iamsmart_department_zh_hant: Option<String>,
    /// The department or organisation in Simplified Chinese.
    #[serde(
        rename = "iamsmart_department#zh-Hans",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub iamsmart_department_zh_hans: Option<String>,
    /// Why the service asks for a resident's sign-in and data (English), shown on the login and
    /// consent pages and in the app unless a request states its own `purpose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_purpose: Option<String>,
    /// The purpose in Traditional Chinese.
    #[serde(
        rename = "iamsmart_purpose#zh-Hant",
        alias = "iamsmart_purpose#zh-HK",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub iamsmart_purpose_zh_hant: Option<String>,
    /// The purpose in Simplified Chinese.
    #[serde(
        rename = "iamsmart_purpose#zh-Hans",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub iamsmart_purpose_zh_hans: Option<String>,
    /// The service's full Personal Information Collection Statement (linked from the consent
    /// page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_pics_uri: Option<String>,
    /// How many days the service keeps the personal data it receives (said on the consent page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_retention_days: Option<u32>,
    /// Where a resident asks the service for access to and correction of their data (an email
    /// address, a telephone number or an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_data_contact: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `private_key_jwt` or `client_secret_basic`.
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// The client's public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// A JSON array of the client's redirect URIs at an `https` URL whose host is the sector of
    /// its pairwise subjects (OpenID Connect Core 8.1): needed when they span several hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// `authorization_code`, `refresh_token`, the CIBA grant.
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    /// Only `code`.
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    /// ES256 (default), EdDSA or RS256.
    #[serde(default = "default_alg")]
    pub id_token_signed_response_alg: String,
    /// `pairwise` (default) or `public` (operator-approved only).
    #[serde(default = "default_subject_type")]
    pub subject_type: String,
    /// Scopes the client may ask for (space-separated); default: every scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Tokens bound to the client's DPoP key.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// PAR required.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Back-channel logout endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Include `sid` in logout tokens.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// CIBA: `poll` or `ping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<String>,
    /// CIBA ping endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// Where the portal starts the client's login for one-tap entry (OpenID Connect Core 4,
    /// third-party-initiated login): on the host of a redirect URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiate_login_uri: Option<String>,
    /// Logo shown on the login page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `fapi2` (default) or `basic`.
    #[serde(default = "default_profile")]
    pub iamsmart_profile: String,
    /// As a requester of the data exchange gateway: `commercial` (default), or `government` or
    /// `bank` (HKMA Commercial Data Interchange), which only the platform operator grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_requester_type: Option<String>,
}

fn default_auth_method() -> String {
    "private_key_jwt".into()
}
fn default_grants() -> Vec<String> {
    vec![
        "authorization_code".into(),
        "refresh_token".into(),
        "client_credentials".into(),
    ]
}
fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}
fn default_alg() -> String {
    "ES256".into()
}
fn default_subject_type() -> String {
    "pairwise".into()
}
fn default_profile() -> String {
    "fapi2".into()
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Metadata.
    pub meta: ClientMetadata,
    /// SHA-256 of the secret (basic clients with `client_secret_basic`).
    pub secret_hash: Option<Vec<u8>>,
    /// `active` or `disabled`.
    pub status: String,
    /// Registered by the operator (rather than by the service itself through dynamic
    /// registration, which nobody checked): residents are told when it is not.
    pub vetted: bool,
    /// The sector fixed at registration (`None` for clients registered before it was kept).
    pub fixed_sector: Option<String>,
}

impl ClientMetadata {
    /// The name in every language registered.
    pub fn names(&self) -> Localized {
        Localized {
            en: self.client_name.trim().to_string(),
            zh_hant: tidy(&self.client_name_zh_hant),
            zh_hans: tidy(&self.client_name_zh_hans),
        }
    }

    /// Who is asking, as residents see it: name, department or organisation, purpose.
    pub fn service_details(&self) -> ServiceDetails {
        let localized = |en: &Option<String>, hant: &Option<String>, hans: &Option<String>| {
            tidy(en).map(|en| Localized {
                en,
                zh_hant: tidy(hant),
                zh_hans: tidy(hans),
            })
        };
        ServiceDetails {
            statement_uri: tidy(&self.iamsmart_pics_uri),
            retention_days: self.iamsmart_retention_days,
            data_contact: tidy(&self.iamsmart_data_contact),
            name: self.names(),
            department: localized(
                &self.iamsmart_department,
                &self.iamsmart_department_zh_hant,
                &self.iamsmart_department_zh_hans,
            ),
            purpose: localized(
                &self.iamsmart_purpose,
                &self.iamsmart_purpose_zh_hant,
                &self.iamsmart_purpose_zh_hans,
            ),
        }
    }

    /// Every human-readable text with its metadata name, for checking.
    fn texts(&self) -> [(&'static str, Option<&str>, usize); 10] {
        [
            (
                "iamsmart_data_contact",
                self.iamsmart_data_contact.as_deref(),
                200,
            ),
            ("client_name", Some(self.client_name.as_str()), 100),
            (
                "client_name#zh-Hant",
                self.client_name_zh_hant.as_deref(),
                100,
            ),
            (
                "client_name#zh-Hans",
                self.client_name_zh_hans.as_deref(),
                100,
            ),
            (
                "iamsmart_department",
                self.iamsmart_department.as_deref(),
                100,
            ),
            (
                "iamsmart_department#zh-Hant",
                self.iamsmart_department_zh_hant.as_deref(),
                100,
            ),
            (
                "iamsmart_department#zh-Hans",
                self.iamsmart_department_zh_hans.as_deref(),
                100,
            ),
            ("iamsmart_purpose", self.iamsmart_purpose.as_deref(), 300),
            (
                "iamsmart_purpose#zh-Hant",
                self.iamsmart_purpose_zh_hant.as_deref(),
                300,
            ),
            (
                "iamsmart_purpose#zh-Hans",
                self.iamsmart_purpose_zh_hans.as_deref(),
                300,
            ),
        ]
    }
}

/// A client's names in every language from its stored registration (the `metadata` column of
/// `clients`, read by listings that join it); `fallback` when there is none.
pub fn names_from_stored(metadata: Option<&str>, fallback: &str) -> Localized {
    metadata
        .and_then(|m| serde_json::from_str::<ClientMetadata>(m).ok())
        .map(|m| m.names())
        .unwrap_or_else(|| Localized::en(fallback))
}

fn tidy(o: &Option<String>) -> Option<String> {
    o.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Client {
    /// The client's requester type at the gateway.
    pub fn requester_type(&self) -> &str {
        self.meta
            .iamsmart_requester_type
            .as_deref()
            .unwrap_or("commercial")
    }

    /// The client's encryption key (`use`: `enc`, EC P-256) from its registered keys, if any.
    pub async fn encryption_key(&self, p: &Platform) -> OResult<Option<PublicJwk>> {
        let has_keys = self.meta.jwks.is_some() || self.meta.jwks_uri.is_some();
        if !has_keys {
            return Ok(None);
        }
        Ok(keys(p, self, false).await?.into_iter().find(|k| {
            k.use_.as_deref() == Some("enc") && k.kty == "EC" && k.crv.as_deref() == Some("P-256")
        }))
    }

    /// Whether this is a FAPI 2.0 client.
    pub fn fapi(&self) -> bool {
        self.meta.iamsmart_profile == "fapi2"
    }
    /// The sector of pairwise subjects: fixed at registration (the host of the redirect URIs,
    /// or of the verified `sector_identifier_uri`).
    pub fn sector(&self) -> String {
        self.fixed_sector
            .clone()
            .unwrap_or_else(|| declared_sector(&self.meta).unwrap_or_else(|| self.id.clone()))
    }
    /// The sector whose subjects this client receives: its pairwise sector, or
    /// [`crate::oidc::claims::PUBLIC_SECTOR`] for a client with public subjects.
    pub fn subject_sector(&self) -> String {
        if self.meta.subject_type == "pairwise" {
            self.sector()
        } else {
            crate::oidc::claims::PUBLIC_SECTOR.to_string()
        }
    }
    /// The ID token signing algorithm.
    pub fn id_token_alg(&self) -> Alg {
        self.meta
            .id_token_signed_response_alg
            .parse()
            .unwrap_or(Alg::ES256)
    }
    /// Whether the client may use a grant type.
    pub fn has_grant(&self, g: &str) -> bool {
        self.meta.grant_types.iter().any(|x| x == g)
    }
}

/// The host of an absolute URL, as the `url` crate reads it (lower case; an IPv6 address in
/// brackets), or `None` when there is none.
fn host_of(address: &str) -> Option<String> {
    let parsed = url::Url::parse(address).ok()?;
    parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The sector a client's metadata declares: the host of its `sector_identifier_uri`, or of its
/// first redirect URI.
fn declared_sector(m: &ClientMetadata) -> Option<String> {
    match &m.sector_identifier_uri {
        Some(u) => host_of(u),
        None => m.redirect_uris.first().and_then(|u| host_of(u)),
    }
}

/// The sector of new metadata, with its `sector_identifier_uri` fetched (through the guarded
/// client) and checked to list every redirect URI.
async fn settle_sector(p: &Platform, m: &ClientMetadata) -> OResult<String> {
    if let Some(u) = &m.sector_identifier_uri {
        let listed = p.outbound.get_json(u).await.map_err(|_| {
            meta_err("sector_identifier_uri cannot be fetched (an https URL at a public address, answering a JSON array)")
        })?;
        let listed: Vec<&str> = listed
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if let Some(missing) = m
            .redirect_uris
            .iter()
            .find(|r| !listed.contains(&r.as_str()))
        {
            return Err(meta_err(format!(
                "sector_identifier_uri does not list the redirect URI {missing}"
            )));
        }
    }
    declared_sector(m).ok_or_else(|| meta_err("no sector: give redirect_uris"))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

/// Check a URI a client registers: absolute https (http only on loopback, for development),
/// no fragment, no user info, no wildcards. A native app's private-use scheme is refused: an app
/// receives its answers on a claimed https link (RFC 8252 section 7.2), which no other app can
/// register.
pub fn check_uri(field: &str, uri: &str) -> Result<(), String> {
    if uri.len() > 2000 {
        return Err(format!("{field}: too long"));
    }
    // Checked on the text as written: the parser would drop or encode some of these.
    if uri.contains('#')
        || uri.contains('*')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{field}: {uri:?} must not contain a fragment, wildcards or spaces"
        ));
    }
    // The parser forgives `https:host` and `https:///host`; a registered URI is written out.
    let written_out = uri
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    let parsed = url::Url::parse(uri)
        .ok()
        .filter(|u| written_out && u.host_str().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| format!("{field}: {uri:?} is not an absolute URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && is_loopback(host));
    if !scheme_ok {
        return Err(format!(
            "{field}: {uri:?} must use https (http only on localhost)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{field}: {uri:?} must not contain user information"
        ));
    }
    Ok(())
}

fn meta_err(m: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(m)
}

/// Check metadata against the rules of its profile. `operator` may approve public subjects.
pub fn check_metadata(m: &ClientMetadata, operator: bool) -> OResult<()> {
    for (field, text, max) in m.texts() {
        let Some(text) = text else { continue };
        let text = text.trim();
        // Control and direction-override characters would make a name read otherwise on one
        // screen than on another.
        let hidden = |c: char| {
            c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        };
        if (field == "client_name" && text.is_empty())
            || text.chars().count() > max
            || text.chars().any(hidden)
        {
            return Err(meta_err(format!(
                "{field}: {} to {max} characters, no control characters",
                u8::from(field == "client_name")
            )));
        }
    }
    if m.iamsmart_retention_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        return Err(meta_err("iamsmart_retention_days: 1 to 3650"));
    }
    if m.redirect_uris.is_empty() || m.redirect_uris.len() > 20 {
        return Err(OAuthError::invalid_redirect_uri(
            "give 1 to 20 redirect_uris",
        ));
    }
    for u in &m.redirect_uris {
        check_uri("redirect_uris", u).map_err(OAuthError::invalid_redirect_uri)?;
    }
    let hosts: std::collections::BTreeSet<_> =
        m.redirect_uris.iter().filter_map(|u| host_of(u)).collect();
    if let Some(u) = &m.sector_identifier_uri {
        check_uri("sector_identifier_uri", u).map_err(meta_err)?;
        if !u.to_ascii_lowercase().starts_with("https://")
            && !host_of(u).is_some_and(|h| is_loopback(&h))
        {
            return Err(meta_err("sector_identifier_uri must use https"));
        }
    } else if m.subject_type == "pairwise" && hosts.len() > 1 {
        return Err(OAuthError::invalid_redirect_uri(
            "all redirect_uris must share one host (the sector of pairwise subjects), or give a sector_identifier_uri listing them",
        ));
    }
    // Each URL is checked under its own name, so that an error says which one is wrong.
    let named = m
        .post_logout_redirect_uris
        .iter()
        .map(|u| ("post_logout_redirect_uris", u))
        .chain(
            m.backchannel_logout_uri
                .iter()
                .map(|u| ("backchannel_logout_uri", u)),
        )
        .chain(
            m.backchannel_client_notification_endpoint
                .iter()
                .map(|u| ("backchannel_client_notification_endpoint", u)),
        )
        .chain(m.jwks_uri.iter().map(|u| ("jwks_uri", u)))
        .chain(m.logo_uri.iter().map(|u| ("logo_uri", u)))
        .chain(m.iamsmart_pics_uri.iter().map(|u| ("iamsmart_pics_uri", u)))
        .chain(
            m.initiate_login_uri
                .iter()
                .map(|u| ("initiate_login_uri", u)),
        );
    for (field, u) in named {
        check_uri(field, u).map_err(meta_err)?;
    }
    if let Some(u) = &m.initiate_login_uri {
        // The portal sends residents there: only to the client's own site.
        if !host_of(u).is_some_and(|h| hosts.contains(&h)) {
            return Err(meta_err(
                "initiate_login_uri must be on the host of the redirect_uris",
            ));
        }
    }
    match m.iamsmart_requester_type.as_deref() {
        None | Some("commercial") => {}
        Some("government" | "bank") if operator => {}
        Some("government" | "bank") => return Err(meta_err(
            "iamsmart_requester_type government or bank is granted by the platform operator only",
        )),
        Some(_) => {
            return Err(meta_err(
                "iamsmart_requester_type: commercial, government or bank",
            ))
        }
    }
    if m.iamsmart_requester_type.as_deref() == Some("bank") && m.iamsmart_profile != "fapi2" {
        return Err(meta_err(
            "banks (HKMA Commercial Data Interchange) use the fapi2 profile",
        ));
    }
    match m.subject_type.as_str() {
        "pairwise" => {}
        "public" if operator => {}
        "public" => {
            return Err(meta_err(
                "subject_type public is granted by the platform operator only",
            ))
        }
        _ => return Err(meta_err("subject_type: pairwise or public")),
    }
    if m.response_types != ["code"] {
        return Err(meta_err("response_types: only [\"code\"]"));
    }
    for g in &m.grant_types {
        if ![
            "authorization_code",
            "refresh_token",
            CIBA_GRANT,
            "client_credentials",
        ]
        .contains(&g.as_str())
        {
            return Err(meta_err(format!(
                "grant_types: {g:?} is not supported (authorization_code, refresh_token, client_credentials, {CIBA_GRANT})"
            )));
        }
    }
    if m.id_token_signed_response_alg.parse::<Alg>().is_err() {
        return Err(meta_err(
            "id_token_signed_response_alg: ES256, EdDSA or RS256",
        ));
    }
    let has_keys = m.jwks.is_some() || m.jwks_uri.is_some();
    if m.jwks.is_some() && m.jwks_uri.is_some() {
        return Err(meta_err("give jwks or jwks_uri, not both"));
    }
    if let Some(j) = &m.jwks {
        parse_jwks(j).map_err(meta_err)?;
    }
    match (
        m.iamsmart_profile.as_str(),
        m.token_endpoint_auth_method.as_str(),
    ) {
        ("fapi2", "private_key_jwt") | ("basic", "private_key_jwt") if !has_keys => {
            return Err(meta_err("private_key_jwt needs jwks or jwks_uri"))
        }
        ("fapi2", "private_key_jwt") => {
            if !m.dpop_bound_access_tokens || !m.require_pushed_authorization_requests {
                return Err(meta_err(
                    "fapi2 clients use PAR and DPoP-bound tokens (require_pushed_authorization_requests and dpop_bound_access_tokens must be true)",
                ));
            }
        }
        ("fapi2", _) => return Err(meta_err("fapi2 clients authenticate with private_key_jwt")),
        ("basic", "private_key_jwt" | "client_secret_basic") => {}
        ("basic", _) => {
            return Err(meta_err(
                "token_endpoint_auth_method: private_key_jwt or client_secret_basic",
            ))
        }
        _ => return Err(meta_err("iamsmart_profile: fapi2 or basic")),
    }
    if m.has_ciba() {
        match m.backchannel_token_delivery_mode.as_deref() {
            Some("poll") => {}
            Some("ping") if m.backchannel_client_notification_endpoint.is_some() => {}
            _ => {
                return Err(meta_err(
                    "CIBA clients set backchannel_token_delivery_mode poll, or ping with backchannel_client_notification_endpoint",
                ))
            }
        }
    }
    Ok(())
}

impl ClientMetadata {
    /// A new client's metadata with the defaults of `profile`.
    pub fn for_profile(name: &str, redirect_uris: Vec<String>, profile: &str) -> Self {
        let fapi = profile == "fapi2";
        Self {
            client_name: name.into(),
            client_name_zh_hant: None,
            client_name_zh_hans: None,
            iamsmart_department: None,
            iamsmart_department_zh_hant: None,
            iamsmart_department_zh_hans: None,
            iamsmart_purpose: None,
            iamsmart_purpose_zh_hant: None,
            iamsmart_purpose_zh_hans: None,
            iamsmart_pics_uri: None,
            iamsmart_retention_days: None,
            iamsmart_data_contact: None,
            redirect_uris,
            post_logout_redirect_uris: vec![],
            token_endpoint_auth_method: if fapi {
                "private_key_jwt".into()
            } else {
                "client_secret_basic".into()
            },
            jwks: None,
            jwks_uri: None,
            sector_identifier_uri: None,
            grant_types: default_grants(),
            response_types: default_response_types(),
            id_token_signed_response_alg: default_alg(),
            subject_type: default_subject_type(),
            scope: None,
            dpop_bound_access_tokens: fapi,
            require_pushed_authorization_requests: fapi,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            backchannel_token_delivery_mode: None,
            backchannel_client_notification_endpoint: None,
            initiate_login_uri: None,
            logo_uri: None,
            iamsmart_profile: profile.into(),
            iamsmart_requester_type: None,
        }
    }

    fn has_ciba(&self) -> bool {
        self.grant_types.iter().any(|g| g == CIBA_GRANT)
    }
}

/// Parse a JWKS document into public keys (private members refused).
pub fn parse_jwks(v: &serde_json::Value) -> Result<Vec<PublicJwk>, String> {
    let keys = v
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("jwks: expected {\"keys\": [...]}")?;
    if keys.is_empty() || keys.len() > 20 {
        return Err("jwks: 1 to 20 keys".into());
    }
    keys.iter()
        .map(|k| {
            if k.get("d").is_some() || k.get("p").is_some() || k.get("k").is_some() {
                return Err(
                    "jwks: private or symmetric key material must not be registered".into(),
                );
            }
            serde_json::from_value::<PublicJwk>(k.clone()).map_err(|e| format!("jwks: {e}"))
        })
        .collect()
}

async fn ensure_signing_key(p: &Platform, meta: &ClientMetadata) -> OResult<()> {
    let alg: Alg = meta
        .id_token_signed_response_alg
        .parse()
        .map_err(|_| meta_err("id_token_signed_response_alg"))?;
    p.keys
        .ensure(crate::keys::Purpose::Token, alg)
        .await
        .map_err(OAuthError::from)
}

/// A newly registered client and its one-time secrets.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    /// `client_id`.
    pub client_id: String,
    /// Secret (client_secret_basic only; shown once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// With a secret: when it expires (0: never; RFC 7591 section 3.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// RFC 7592 registration access token (shown once).
    pub registration_access_token: String,
    /// RFC 7592 management URI.
    pub registration_client_uri: String,
    /// Metadata as registered.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// Unix seconds.
    pub client_id_issued_at: i64,
}

fn hash(s: &str) -> Vec<u8> {
    iamsmart_crypto::hash::sha256(s.as_bytes()).to_vec()
}

/// Register a client. `operator` marks creation by the platform operator (CLI, admin API).
pub async fn register(
    p: &Platform,
    meta: ClientMetadata,
    actor: &str,
    operator: bool,
) -> OResult<Registered> {
    check_metadata(&meta, operator)?;
    if !operator {
        check_name(p, &meta, None).await?;
    }
    let sector = settle_sector(p, &meta).await?;
    // A host that another service already uses is its sector: a self-registered client may not
    // share it (loopback, for development, excepted).
    if !operator
        && meta.subject_type == "pairwise"
        && !is_loopback(&sector)
        && sector_taken(p, &sector).await?
    {
        return Err(meta_err(format!(
            "the sector {sector} (the host of your redirect URIs) belongs to another service; a service of the same organisation is registered by the operator"
        )));
    }
    ensure_signing_key(p, &meta).await?;
    let id = format!("c_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 12));
    let secret = (meta.token_endpoint_auth_method == "client_secret_basic")
        .then(|| iamsmart_crypto::rng::token(p.rng.as_ref(), 32));
    let rat = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    let text = serde_json::to_string(&meta).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    sqlx::query(
        "INSERT INTO clients (id, name, profile, metadata, secret_hash, registration_token_hash, status, created_by, created_at, updated_at, sector)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $8, $9)",
    )
    .bind(&id)
    .bind(&meta.client_name)
    .bind(&meta.iamsmart_profile)
    .bind(&text)
    .bind(secret.as_deref().map(hash))
    .bind(hash(&rat))
    .bind(actor)
    .bind(now)
    .bind(&sector)
    .execute(&mut *tx)
    .await
    .map_err(DomainError::from)?;
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.registered",
            actor,
            subject: &format!("client:{id}"),
            detail: serde_json::json!({ "profile": meta.iamsmart_profile, "subject_type": meta.subject_type }),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(Registered {
        registration_client_uri: p.oidc.policy.url(&format!("/register/{id}")),
        client_id: id,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        registration_access_token: rat,
        metadata: meta,
        client_id_issued_at: now / 1000,
    })
}

/// A name folded for comparing: lower case, letters and digits only (so "Inland  Revenue
/// Department." and "inland revenue department" are the same name).
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Names a service may not give itself: the government's departments and public bodies (as the
/// portal's catalogue names them, in both languages), and the platform's own name.
fn reserved_names() -> &'static std::collections::BTreeSet<String> {
    static NAMES: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: std::collections::BTreeSet<String> = [
            "iAM Smart",
            "智方便",
            "iAM Smart 智方便",
            "Hong Kong Government",
            "HKSAR Government",
            "香港特別行政區政府",
            "香港政府",
        ]
        .iter()
        .map(|n| folded(n))
        .collect();
        if let Ok(c) = iamsmart_catalogue::Catalogue::bundled() {
            for s in c.services() {
                names.insert(folded(&s.department.en));
                names.insert(folded(&s.department.zh));
            }
        }
        names
    })
}

/// A self-registered service's names (in every language) and organisation: not a
/// department's, not the platform's, and no name another service has in any language
/// (residents are told to check the name on the login page and in the app).
async fn check_name(p: &Platform, meta: &ClientMetadata, own_id: Option<&str>) -> OResult<()> {
    let reserved = reserved_names();
    let is_reserved = |f: &String| {
        reserved.contains(f)
            || reserved
                .iter()
                .any(|r| r.len() >= 6 && f.contains(r.as_str()))
    };
    let mine: Vec<String> = meta.names().all().map(folded).collect();
    if mine.iter().any(is_reserved) {
        return Err(meta_err(
            "client_name: that is the name of a government department or of iAM Smart; ask the operator to register a government service",
        ));
    }
    if let Some(d) = meta.service_details().department {
        if d.all().map(folded).any(|f| is_reserved(&f)) {
            return Err(meta_err(
                "iamsmart_department: that is a government department or iAM Smart; a government service is registered by the operator",
            ));
        }
    }
    let others: Vec<(String, String)> =
        sqlx::query_as("SELECT id, metadata FROM clients WHERE status = 'active'")
            .fetch_all(p.db.reader())
            .await
            .map_err(DomainError::from)?;
    for (id, text) in &others {
        if Some(id.as_str()) == own_id {
            continue;
        }
        let Ok(other) = serde_json::from_str::<ClientMetadata>(text) else {
            continue;
        };
        let taken = other.names().all().map(folded).any(|f| mine.contains(&f));
        if taken {
            return Err(meta_err(
                "client_name: another service already has this name; choose one residents can tell apart",
            ));
        }
    }
    Ok(())
}

/// Whether an active client already has `sector` (kept, or computed for older clients).
async fn sector_taken(p: &Platform, sector: &str) -> OResult<bool> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, metadata, sector FROM clients WHERE status = 'active'")
            .fetch_all(p.db.reader())
            .await
            .map_err(DomainError::from)?;
    Ok(rows.iter().any(|(_, meta, kept)| {
        let s = kept.clone().or_else(|| {
            serde_json::from_str::<ClientMetadata>(meta)
                .ok()
                .and_then(|m| declared_sector(&m))
        });
        s.as_deref() == Some(sector)
    }))
}

/// Load an active client.
pub async fn get(p: &Platform, id: &str) -> Result<Option<Client>, DomainError> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    if let Some(c) = p.oidc.clients.get(id) {
        return Ok(Some(c));
    }
    let found = load(p, id).await?;
    if let Some(c) = &found {
        p.oidc.clients.put(c);
    }
    Ok(found)
}

async fn load(p: &Platform, id: &str) -> Result<Option<Client>, DomainError> {
    let row = sqlx::query(
        "SELECT metadata, secret_hash, status, created_by, sector FROM clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let status: String = row.try_get(2)?;
    if status != "active" {
        return Ok(None);
    }
    let meta: ClientMetadata = serde_json::from_str(&row.try_get::<String, _>(0)?)
        .map_err(|e| DomainError::Integrity(format!("client metadata: {e}")))?;
    let created_by: String = row.try_get(3)?;
    Ok(Some(Client {
        id: id.into(),
        meta,
        secret_hash: row.try_get(1)?,
        status,
        vetted: created_by.starts_with("operator:"),
        fixed_sector: row.try_get(4)?,
    }))
}

/// Check an RFC 7592 registration access token for a client.
pub async fn check_registration_token(p: &Platform, id: &str, token: &str) -> OResult<Client> {
    let stored: Option<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT registration_token_hash FROM clients WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await
    .map_err(DomainError::from)?;
    let ok = stored
        .flatten()
        .is_some_and(|h| iamsmart_crypto::hash::ct_eq(&h, &hash(token)));
    if !ok {
        return Err(OAuthError::invalid_token(
            "unknown client or wrong registration access token",
        ));
    }
    get(p, id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("unknown client"))
}

/// Replace a client's metadata (RFC 7592 PUT). The profile and subject type cannot change.
pub async fn update(p: &Platform, client: &Client, meta: ClientMetadata) -> OResult<Client> {
    if meta.iamsmart_profile != client.meta.iamsmart_profile
        || meta.subject_type != client.meta.subject_type
        || meta.token_endpoint_auth_method != client.meta.token_endpoint_auth_method
        || meta.iamsmart_requester_type != client.meta.iamsmart_requester_type
    {
        return Err(meta_err(
            "iamsmart_profile, subject_type and token_endpoint_auth_method cannot change; register a new client",
        ));
    }
    check_metadata(&meta, meta.subject_type == "public")?;
    if !client.vetted {
        check_name(p, &meta, Some(&client.id)).await?;
    }
    if settle_sector(p, &meta).await? != client.sector() {
        return Err(meta_err(
            "the redirect URIs (or sector_identifier_uri) would move this client to another sector of pairwise subjects; register a new client, or ask the operator",
        ));
    }
    ensure_signing_key(p, &meta).await?;
    let now = p.clock.now_ms();
    let text = serde_json::to_string(&meta).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    sqlx::query("UPDATE clients SET metadata = $1, name = $2, updated_at = $3 WHERE id = $4")
        .bind(&text)
        .bind(&meta.client_name)
        .bind(now)
        .bind(&client.id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    let actor = format!("client:{}", client.id);
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.updated",
            actor: &actor,
            subject: &actor,
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    p.oidc.forget_keys(&client.id);
    Ok(Client {
        meta,
        ..client.clone()
    })
}

/// Disable a client (RFC 7592 DELETE, or the operator): its grants are revoked.
pub async fn disable(p: &Platform, id: &str, actor: &str) -> OResult<()> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    let r = sqlx::query("UPDATE clients SET status = 'disabled', updated_at = $1 WHERE id = $2 AND status = 'active'")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    if r.rows_affected() == 0 {
        return Err(OAuthError::invalid_token("unknown client"));
    }
    sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = 'client disabled' WHERE client_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.disabled",
            actor,
            subject: &format!("client:{id}"),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    p.oidc.forget_keys(id);
    Ok(())
}

/// Issue an initial access token for dynamic registration (operator).
pub async fn issue_initial_token(
    p: &Platform,
    actor: &str,
    ttl_ms: i64,
    uses: i64,
) -> Result<String, DomainError> {
    let token = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    sqlx::query("INSERT INTO initial_access_tokens (token_hash, created_by, created_at, expires_at, uses_left) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash(&token))
        .bind(actor)
        .bind(now)
        .bind(now + ttl_ms)
        .bind(uses)
        .execute(p.db.writer())
        .await?;
    Ok(token)
}

/// Spend one use of an initial access token.
pub async fn use_initial_token(p: &Platform, token: &str) -> OResult<()> {
    let r = sqlx::query(
        "UPDATE initial_access_tokens SET uses_left = uses_left - 1 WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(p.clock.now_ms())
    .execute(p.db.writer())
    .await
    .map_err(DomainError::from)?;
    if r.rows_affected() == 1 {
        Ok(())
    } else {
        Err(OAuthError::invalid_token(
            "dynamic registration needs a valid initial access token from the platform operator",
        ))
    }
}

/// The client's signing keys (its encryption keys left out).
pub async fn signing_keys(p: &Platform, client: &Client, refresh: bool) -> OResult<Vec<PublicJwk>> {
    Ok(keys(p, client, refresh)
        .await?
        .into_iter()
        .filter(|k| {
            k.use_.as_deref() != Some("enc")
                && !k.alg.as_deref().is_some_and(|a| a.starts_with("ECDH"))
        })
        .collect())
}

/// How long a client's registration is cached in a process. A change made through this process
/// (update, disable) takes effect at once; one made by another process within this time.
const CLIENT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Per-process cache of active clients' registrations (read four times per login).
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<String, (Client, std::time::Instant)>>,
}

impl ClientCache {
    fn get(&self, id: &str) -> Option<Client> {
        let e = self.entries.lock().ok()?;
        e.get(id)
            .filter(|(_, at)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(c, _)| c.clone())
    }
    fn put(&self, c: &Client) {
        if let Ok(mut e) = self.entries.lock() {
            if e.len() > 10_000 {
                e.clear();
            }
            e.insert(c.id.clone(), (c.clone(), std::time::Instant::now()));
        }
    }
    /// Drop a client's cached registration.
    pub fn forget(&self, id: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(id);
        }
    }
}

/// Per-process cache of clients' keys fetched from their `jwks_uri`.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Vec<PublicJwk>, i64)>>,
}

impl KeyCache {
    fn get(&self, client: &str, now: i64, max_age: i64) -> Option<Vec<PublicJwk>> {
        let e = self.entries.lock().ok()?;
        e.get(client)
            .filter(|(_, at)| now - at < max_age)
            .map(|(k, _)| k.clone())
    }
    fn put(&self, client: &str, keys: Vec<PublicJwk>, now: i64) {
        if let Ok(mut e) = self.entries.lock() {
            if e.len() > 10_000 {
                e.clear();
            }
            e.insert(client.into(), (keys, now));
        }
    }
    /// Drop a client's cached keys.
    pub fn forget(&self, client: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(client);
        }
    }
}

/// The client's public keys: registered inline, or fetched from its `jwks_uri` (cached five
/// minutes; `refresh` fetches again, at most every ten seconds).
pub async fn keys(p: &Platform, client: &Client, refresh: bool) -> OResult<Vec<PublicJwk>> {
    if let Some(j) = &client.meta.jwks {
        return parse_jwks(j).map_err(OAuthError::invalid_client);
    }
    let Some(uri) = &client.meta.jwks_uri else {
        return Err(OAuthError::invalid_client(
            "the client has no registered keys",
        ));
    };
    let now = p.clock.now_ms();
    let max_age = if refresh { 10_000 } else { 300_000 };
    if let Some(k) = p.oidc.keys.get(&client.id, now, max_age) {
        return Ok(k);
    }
    // Through the guarded client: a public address only, a size and time limit, failures
    // remembered a while, and no detail of what went wrong in the answer (it would map the
    // platform's network for whoever registered the URL).
    let fetched = p.outbound.get_json(uri).await.map_err(|e| {
        tracing::info!(client = %client.id, error = %e, "client keys unavailable");
        OAuthError::invalid_client("the client's keys cannot be fetched from its jwks_uri")
    })?;
    let keys = parse_jwks(&fetched).map_err(OAuthError::invalid_client)?;
    p.oidc.keys.put(&client.id, keys.clone(), now);
    Ok(keys)
}

/// The client id of the platform's own account pages.
pub const PORTAL: &str = "iamsmart-portal";

/// Register (or update) the platform's own account pages as a client, so that residents sign in
/// to them through the same pages as to any service. Public subjects, no personal data.
pub async fn ensure_portal(p: &Platform) -> Result<(), DomainError> {
    let mut meta = ClientMetadata::for_profile(
        "iAM Smart account",
        vec![p.oidc.policy.url("/account/callback")],
        "basic",
    );
    meta.subject_type = "public".into();
    meta.scope = Some("openid".into());
    meta.grant_types = vec!["authorization_code".into()];
    let text = serde_json::to_string(&meta).map_err(|e| DomainError::Integrity(e.to_string()))?;
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO clients (id, name, profile, metadata, status, created_by, created_at, updated_at) VALUES ($1, $2, 'basic', $3, 'active', 'system', $4, $4)
         ON CONFLICT (id) DO UPDATE SET metadata = $3, updated_at = $4",
    )
    .bind(PORTAL)
    .bind(&meta.client_name)
    .bind(&text)
    .bind(now)
    .execute(p.db.writer())
    .await?;
    p.oidc.forget_keys(PORTAL);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_checked() {
        for bad in [
            "http://example.org/cb",
            "https://example.org/cb#frag",
            "https://*.example.org/cb",
            "https://user@example.org/cb",
            "javascript:alert(1)",
            "/relative",
            "https://exa mple.org/",
            "https://:pw@example.org/cb",
            "http://example.org.127.0.0.1.nip.io/cb",
            "http://localhost.example.org/cb",
            "https:///cb",
            "https:example.org/cb",
            // A private-use scheme: any app on the phone could claim it (RFC 8252 section 8.1).
            "com.example.app://cb",
            "com.example.app:/cb",
        ] {
            assert!(check_uri("redirect_uris", bad).is_err(), "{bad}");
        }
        for good in [
            "https://example.org/cb",
            "https://cb",
            "HTTPS://Example.org/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]:9000/cb",
            "http://localhost/cb?x=1",
        ] {
            assert!(check_uri("redirect_uris", good).is_ok(), "{good}");
        }
        assert_eq!(host_of("https://a.b:8443/x").as_deref(), Some("a.b"));
        assert_eq!(host_of("https://u@h/x").as_deref(), Some("h"));
        assert_eq!(
            host_of("https://EXAMPLE.org/x").as_deref(),
            Some("example.org")
        );
        assert_eq!(host_of("http://[::1]:80/").as_deref(), Some("[::1]"));
        assert_eq!(host_of("/relative"), None);
    }

    #[test]
    fn profiles_enforce_their_rules() {
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tAsdqjEhnq5Hx8BjrpyZlWyQWHBI"}]});
        let mut m =
            ClientMetadata::for_profile("Svc", vec!["https://svc.example/cb".into()], "fapi2");
        assert!(check_metadata(&m, false).is_err(), "fapi2 needs keys");
        m.jwks = Some(jwks.clone());
        check_metadata(&m, false).unwrap();
        m.dpop_bound_access_tokens = false;
        assert!(check_metadata(&m, false).is_err());
        let mut b =
            ClientMetadata::for_profile("Svc", vec!["https://svc.example/cb".into()], "basic");
        check_metadata(&b, false).unwrap();
        b.subject_type = "public".into();
        assert!(
            check_metadata(&b, false).is_err(),
            "public subjects need the operator"
        );
        check_metadata(&b, true).unwrap();
        b.redirect_uris.push("https://other.example/cb".into());
        b.subject_type = "pairwise".into();
        assert!(
            check_metadata(&b, false).is_err(),
            "one sector per pairwise client"
        );
        let mut priv_key = jwks;
        priv_key["keys"][0]["d"] = "secret".into();
        assert!(parse_jwks(&priv_key).is_err());
    }
}
