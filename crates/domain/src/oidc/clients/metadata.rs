//! A client's registered metadata and the rules it must meet: the profiles, redirect URIs,
//! names and texts, key sets.
use super::super::error::{OAuthError, OResult};
use super::CIBA_GRANT;
use iamsmart_crypto::jose::{Alg, PublicJwk};
use iamsmart_proto::i18n::{Localized, ServiceDetails};
use serde::{Deserialize, Serialize};

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
    pub iamsmart_profile: ClientProfile,
    /// As a requester of the data exchange gateway: `commercial` (default), or `government` or
    /// `bank` (HKMA Commercial Data Interchange), which only the platform operator grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iamsmart_requester_type: Option<RequesterType>,
}

iamsmart_proto::text_enum! {
    /// The security profile a client is held to. Stored in the client's metadata and in its
    /// row (the database refuses any other name: `clients_profile_known`).
    pub enum ClientProfile {
        /// FAPI 2.0 Security Profile: `private_key_jwt`, PAR and DPoP-bound tokens.
        Fapi2 = "fapi2",
        /// OpenID Connect with PKCE: `private_key_jwt` or `client_secret_basic`.
        Basic = "basic",
        /// The iAM Smart-compatible API (`/api/v1/`): HMAC-signed calls, content keys wrapped
        /// to the service's encipherment certificate. Registered by the operator only.
        IamsmartApi = "iamsmart-api",
    }
}

iamsmart_proto::text_enum! {
    /// What kind of requester a client is at the data exchange gateway.
    pub enum RequesterType {
        /// A business (the default); registers itself.
        Commercial = "commercial",
        /// A government department; granted by the platform operator.
        Government = "government",
        /// A bank (HKMA Commercial Data Interchange); granted by the platform operator, fapi2
        /// only.
        Bank = "bank",
    }
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
fn default_profile() -> ClientProfile {
    ClientProfile::Fapi2
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

pub(super) fn tidy(o: &Option<String>) -> Option<String> {
    o.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The host of an absolute URL, as the `url` crate reads it (lower case; an IPv6 address in
/// brackets), or `None` when there is none.
pub(super) fn host_of(address: &str) -> Option<String> {
    let parsed = url::Url::parse(address).ok()?;
    parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The sector a client's metadata declares: the host of its `sector_identifier_uri`, or of its
/// first redirect URI.
pub(super) fn declared_sector(m: &ClientMetadata) -> Option<String> {
    match &m.sector_identifier_uri {
        Some(u) => host_of(u),
        None => m.redirect_uris.first().and_then(|u| host_of(u)),
    }
}

pub(super) fn is_loopback(host: &str) -> bool {
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

pub(super) fn meta_err(m: impl Into<String>) -> OAuthError {
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
    match m.iamsmart_requester_type {
        None | Some(RequesterType::Commercial) => {}
        Some(RequesterType::Government | RequesterType::Bank) if operator => {}
        Some(RequesterType::Government | RequesterType::Bank) => return Err(meta_err(
            "iamsmart_requester_type government or bank is granted by the platform operator only",
        )),
    }
    if m.iamsmart_requester_type == Some(RequesterType::Bank)
        && m.iamsmart_profile != ClientProfile::Fapi2
    {
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
    match (m.iamsmart_profile, m.token_endpoint_auth_method.as_str()) {
        (_, "private_key_jwt") if !has_keys => {
            return Err(meta_err("private_key_jwt needs jwks or jwks_uri"))
        }
        (ClientProfile::Fapi2, "private_key_jwt") => {
            if !m.dpop_bound_access_tokens || !m.require_pushed_authorization_requests {
                return Err(meta_err(
                    "fapi2 clients use PAR and DPoP-bound tokens (require_pushed_authorization_requests and dpop_bound_access_tokens must be true)",
                ));
            }
        }
        (ClientProfile::Fapi2, _) => {
            return Err(meta_err("fapi2 clients authenticate with private_key_jwt"))
        }
        (ClientProfile::Basic, "private_key_jwt" | "client_secret_basic") => {}
        (ClientProfile::Basic, _) => {
            return Err(meta_err(
                "token_endpoint_auth_method: private_key_jwt or client_secret_basic",
            ))
        }
        (ClientProfile::IamsmartApi, API_AUTH_METHOD) if operator => {
            if m.grant_types != ["authorization_code"] || has_keys {
                return Err(meta_err(
                    "iamsmart-api clients use authorization codes only, and no jwks",
                ));
            }
        }
        (ClientProfile::IamsmartApi, _) => {
            return Err(meta_err(format!(
                "the iamsmart-api profile is registered by the operator, with token_endpoint_auth_method {API_AUTH_METHOD}"
            )))
        }
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

/// How a client of the compatible API authenticates (each call signed with HMAC-SHA256 under its
/// secret): never at the OpenID endpoints.
pub const API_AUTH_METHOD: &str = "iamsmart_hmac";

impl ClientMetadata {
    /// A new client's metadata with the defaults of `profile`.
    pub fn for_profile(name: &str, redirect_uris: Vec<String>, profile: ClientProfile) -> Self {
        let fapi = profile == ClientProfile::Fapi2;
        let api = profile == ClientProfile::IamsmartApi;
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
            } else if api {
                API_AUTH_METHOD.into()
            } else {
                "client_secret_basic".into()
            },
            jwks: None,
            jwks_uri: None,
            sector_identifier_uri: None,
            grant_types: if api {
                vec!["authorization_code".into()]
            } else {
                default_grants()
            },
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
            iamsmart_profile: profile,
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
        let mut m = ClientMetadata::for_profile(
            "Svc",
            vec!["https://svc.example/cb".into()],
            ClientProfile::Fapi2,
        );
        assert!(check_metadata(&m, false).is_err(), "fapi2 needs keys");
        m.jwks = Some(jwks.clone());
        check_metadata(&m, false).unwrap();
        m.dpop_bound_access_tokens = false;
        assert!(check_metadata(&m, false).is_err());
        let mut b = ClientMetadata::for_profile(
            "Svc",
            vec!["https://svc.example/cb".into()],
            ClientProfile::Basic,
        );
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
