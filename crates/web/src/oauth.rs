//! OAuth plumbing for the provider's endpoints: form parsing that notices repeated parameters,
//! client credentials from the request, and the RFC error formats (JSON bodies at endpoints,
//! `WWW-Authenticate` at resources).
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use iamsmart_domain::oidc::client_auth::Presented;
use iamsmart_domain::oidc::clients::ClientId;
use iamsmart_domain::oidc::OAuthError;

/// Parameters, each with every value given (so that repeats can be refused).
pub use iamsmart_domain::oidc::request::Form;

/// Parse `application/x-www-form-urlencoded` text (a body or a query string).
pub fn parse_form(text: &[u8]) -> Form {
    let mut f = Form::new();
    for (k, v) in form_urlencoded::parse(text) {
        f.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    f
}

/// A form body, refused unless it is form-encoded.
pub fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ctype.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::invalid_request("the body is not UTF-8"));
    }
    let f = parse_form(body);
    if f.len() > 64 || f.values().map(Vec::len).sum::<usize>() > 128 {
        return Err(OAuthError::invalid_request("too many parameters"));
    }
    Ok(f)
}

/// The single value of a parameter; repeated parameters are an error.
pub use iamsmart_domain::oidc::request::one;

/// The client's credentials: HTTP Basic (RFC 6749 2.3.1 form-encoding) or form parameters.
pub fn client_credentials(headers: &HeaderMap, f: &Form) -> Result<Presented, OAuthError> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(a) if a.len() > 6 && a[..6].eq_ignore_ascii_case("basic ") => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a[6..].trim())
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let text = String::from_utf8(raw)
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = text
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            // An id of a shape the platform never issues is an unknown client.
            let id = ClientId::parse(&dec(id))
                .map_err(|_| OAuthError::invalid_client("unknown client or wrong secret"))?;
            Some((id, dec(secret)))
        }
        _ => None,
    };
    Ok(Presented {
        basic,
        client_id: one(f, "client_id")?
            .map(|t| ClientId::parse(t).map_err(|_| OAuthError::invalid_client("unknown client")))
            .transpose()?,
        assertion_type: one(f, "client_assertion_type")?.map(str::to_string),
        assertion: one(f, "client_assertion")?.map(str::to_string),
    })
}

/// The HTTP status of an OAuth error: the one place it is decided (RFC 6749 5.2, RFC 6750 3.1,
/// RFC 9470 3): 429 when the caller was throttled, else by the code.
pub fn status_of(e: &OAuthError) -> StatusCode {
    if e.throttled {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    match e.error {
        "invalid_client" | "invalid_token" | "insufficient_user_authentication" => {
            StatusCode::UNAUTHORIZED
        }
        "access_denied" | "insufficient_scope" => StatusCode::FORBIDDEN,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An OAuth error as an endpoint's JSON answer.
pub struct OAuthJson(pub OAuthError);

impl From<OAuthError> for OAuthJson {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OAuthJson {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        let mut res = (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            serde_json::json!({ "error": e.error, "error_description": e.description }).to_string(),
        )
            .into_response();
        if e.error == "invalid_client" {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"iamsmart\""),
            );
        }
        if let Some(s) = e.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

/// An OAuth error at a protected resource (RFC 6750 / RFC 9449 / RFC 9470): the status and a
/// `WWW-Authenticate` challenge for the scheme in use.
pub struct ResourceError {
    /// The error.
    pub error: OAuthError,
    /// `DPoP` or `Bearer`.
    pub scheme: &'static str,
    /// For step-up: the `acr_values` and `max_age` to ask for.
    pub step_up: Option<(String, Option<i64>)>,
}

impl IntoResponse for ResourceError {
    fn into_response(self) -> Response {
        let e = self.error;
        let status = status_of(&e);
        let esc = |s: &str| s.replace(['"', '\\'], "'");
        let mut challenge = format!(
            "{} realm=\"iamsmart\", error=\"{}\", error_description=\"{}\"",
            self.scheme,
            e.error,
            esc(&e.description)
        );
        if self.scheme == "DPoP" {
            challenge.push_str(", algs=\"ES256 EdDSA RS256\"");
        }
        if let Some((acr, max_age)) = &self.step_up {
            challenge.push_str(&format!(", acr_values=\"{}\"", esc(acr)));
            if let Some(m) = max_age {
                challenge.push_str(&format!(", max_age=\"{m}\""));
            }
        }
        let mut res = (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            serde_json::json!({ "error": e.error, "error_description": e.description }).to_string(),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_parsed_where_they_arrive_and_a_malformed_one_is_an_unknown_client() {
        let basic = |id: &str| {
            let mut h = HeaderMap::new();
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:secret"));
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
            );
            h
        };
        let ok = client_credentials(&basic("c_AbC-12_xyz098765"), &Form::new()).unwrap();
        assert_eq!(ok.basic.unwrap().0.as_str(), "c_AbC-12_xyz098765");
        for bad in ["has%20space", "c_a%2Fb", "", "%E5%AE%A2"] {
            let e = client_credentials(&basic(bad), &Form::new()).unwrap_err();
            assert_eq!(
                (e.error, status_of(&e).as_u16()),
                ("invalid_client", 401),
                "{bad}"
            );
        }
        let form = parse_form(b"client_id=iamsmart-portal");
        let p = client_credentials(&HeaderMap::new(), &form).unwrap();
        assert_eq!(p.client_id.unwrap().as_str(), "iamsmart-portal");
        let form = parse_form(b"client_id=c_x%27%3B+--");
        let e = client_credentials(&HeaderMap::new(), &form).unwrap_err();
        assert_eq!((e.error, status_of(&e).as_u16()), ("invalid_client", 401));
    }

    #[test]
    fn one_status_per_error() {
        for (e, status) in [
            (OAuthError::invalid_request("x"), 400),
            (OAuthError::invalid_grant("x"), 400),
            (OAuthError::invalid_client("x"), 401),
            (OAuthError::invalid_token("x"), 401),
            (OAuthError::insufficient_user_authentication("x"), 401),
            (OAuthError::access_denied("x"), 403),
            (OAuthError::insufficient_scope("x"), 403),
            (OAuthError::slow_down("poll less often"), 400),
            (OAuthError::server_error("x"), 500),
            (OAuthError::temporarily_unavailable("x"), 503),
            (
                iamsmart_domain::error::DomainError::TooManyAttempts {
                    retry_after_secs: 3,
                }
                .into(),
                429,
            ),
            (iamsmart_domain::error::DomainError::NotFound.into(), 400),
            (
                iamsmart_domain::error::DomainError::Forbidden("not yours").into(),
                403,
            ),
        ] {
            assert_eq!(status_of(&e).as_u16(), status, "{e}");
        }
    }
}
