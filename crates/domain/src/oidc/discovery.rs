//! The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414), complete and truthful.
use super::{claims, Acr};
use crate::oidc::Oidc;

/// The discovery document.
pub fn metadata(p: &Oidc) -> serde_json::Value {
    let pol = &p.provider.policy;
    let u = |path: &str| pol.url(path);
    let mut claims_supported = vec![
        "sub".to_string(),
        "iss".into(),
        "aud".into(),
        "exp".into(),
        "iat".into(),
        "auth_time".into(),
        "nonce".into(),
        "acr".into(),
        "amr".into(),
        "sid".into(),
        "azp".into(),
    ];
    for f in claims::FIELDS {
        claims_supported.extend(claims::claim_names(f).iter().map(|s| s.to_string()));
    }
    let algs = ["ES256", "EdDSA", "Ed25519", "RS256"];
    serde_json::json!({
        "issuer": pol.issuer,
        "authorization_endpoint": u("/authorize"),
        "pushed_authorization_request_endpoint": u("/par"),
        "token_endpoint": u("/token"),
        "userinfo_endpoint": u("/userinfo"),
        "jwks_uri": u("/.well-known/jwks.json"),
        "registration_endpoint": u("/register"),
        "revocation_endpoint": u("/revoke"),
        "introspection_endpoint": u("/introspect"),
        "end_session_endpoint": u("/logout"),
        "backchannel_authentication_endpoint": u("/bc-authorize"),
        "scopes_supported": claims::supported_scopes(),
        "claims_supported": claims_supported,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", super::clients::CIBA_GRANT],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "userinfo_signing_alg_values_supported": [],
        "request_object_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": algs,
        "require_pushed_authorization_requests": false,
        "request_parameter_supported": true,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "acr_values_supported": Acr::ALL,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        // Pages in English, Traditional Chinese (Hong Kong) and Simplified Chinese.
        "ui_locales_supported": ["en", "zh-HK", "zh-Hant", "zh-Hans"],
        // Claims are the registry's values: the Chinese name as on the identity card, in
        // Traditional characters, never converted (a converted name is not the resident's name).
        "claims_locales_supported": ["en", "zh-Hant-HK"],
        "authorization_details_types_supported": super::authorize::DETAIL_TYPES,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_authentication_request_signing_alg_values_supported": algs,
        "backchannel_user_code_parameter_supported": false,
        "tls_client_certificate_bound_access_tokens": false,
        "service_documentation": u("/docs/integration-guide"),
    })
}
