//! `iamsmart clients ...`: register online services from the command line.
use anyhow::{anyhow, bail};
use iamsmart_domain::oidc::clients::{
    self, ClientMetadata, ClientProfile, RequesterType, CIBA_GRANT,
};
use iamsmart_domain::oidc::Oidc;

/// What residents read about a service besides its English name, in the three languages
/// (RFC 7591 language-tagged metadata: `client_name#zh-Hant`, `iamsmart_department`, ...).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServiceTexts {
    /// The name in Traditional Chinese.
    #[arg(long = "name-zh-hant")]
    pub name_zh_hant: Option<String>,
    /// The name in Simplified Chinese.
    #[arg(long = "name-zh-hans")]
    pub name_zh_hans: Option<String>,
    /// The department or organisation that runs the service (English).
    #[arg(long)]
    pub department: Option<String>,
    /// The department or organisation in Traditional Chinese.
    #[arg(long = "department-zh-hant")]
    pub department_zh_hant: Option<String>,
    /// The department or organisation in Simplified Chinese.
    #[arg(long = "department-zh-hans")]
    pub department_zh_hans: Option<String>,
    /// Why the service asks for sign-ins and data (English).
    #[arg(long)]
    pub purpose: Option<String>,
    /// The purpose in Traditional Chinese.
    #[arg(long = "purpose-zh-hant")]
    pub purpose_zh_hant: Option<String>,
    /// The purpose in Simplified Chinese.
    #[arg(long = "purpose-zh-hans")]
    pub purpose_zh_hans: Option<String>,
    /// The service's full Personal Information Collection Statement (https URL).
    #[arg(long = "pics-uri")]
    pub pics_uri: Option<String>,
    /// How many days the service keeps the personal data it receives.
    #[arg(long = "retention-days")]
    pub retention_days: Option<u32>,
    /// Where residents ask for access to and correction of their data.
    #[arg(long = "data-contact")]
    pub data_contact: Option<String>,
}

impl ServiceTexts {
    /// Write these into a client's metadata.
    pub fn apply(self, m: &mut ClientMetadata) {
        m.client_name_zh_hant = self.name_zh_hant;
        m.client_name_zh_hans = self.name_zh_hans;
        m.iamsmart_department = self.department;
        m.iamsmart_department_zh_hant = self.department_zh_hant;
        m.iamsmart_department_zh_hans = self.department_zh_hans;
        m.iamsmart_purpose = self.purpose;
        m.iamsmart_purpose_zh_hant = self.purpose_zh_hant;
        m.iamsmart_purpose_zh_hans = self.purpose_zh_hans;
        m.iamsmart_pics_uri = self.pics_uri;
        m.iamsmart_retention_days = self.retention_days;
        m.iamsmart_data_contact = self.data_contact;
    }
}

/// What to do.
#[allow(clippy::large_enum_variant)]
pub enum Spec {
    /// Register a client.
    Create {
        /// Name.
        name: String,
        /// The name in Chinese, the department, the purpose.
        texts: ServiceTexts,
        /// Redirect URIs.
        redirect_uris: Vec<String>,
        /// Inline JWKS.
        jwks: Option<serde_json::Value>,
        /// JWKS URI.
        jwks_uri: Option<String>,
        /// `fapi2`, `basic` or `iamsmart-api`.
        profile: ClientProfile,
        /// The encipherment certificate (`iamsmart-api`).
        kek_cert: Option<Vec<u8>>,
        /// Where callbacks go (`iamsmart-api`).
        callback_uri: Option<String>,
        /// The scopes the client may ask for.
        scope: Option<String>,
        /// Public subjects.
        public_subject: bool,
        /// CIBA mode.
        ciba: Option<String>,
        /// CIBA ping endpoint.
        ciba_notification_endpoint: Option<String>,
        /// Back-channel logout endpoint.
        backchannel_logout_uri: Option<String>,
        /// Post-logout redirect URIs.
        post_logout_redirect_uris: Vec<String>,
        /// Requester type at the data exchange gateway.
        requester_type: Option<RequesterType>,
    },
    /// An initial access token for dynamic registration.
    InitialToken {
        /// Hours.
        hours: u64,
        /// Uses.
        uses: u32,
    },
    /// Disable a client.
    Disable {
        /// Client id.
        client_id: String,
    },
    /// A client's recent calls of the compatible API.
    Log {
        /// Client id.
        client_id: String,
        /// How many.
        limit: u32,
    },
}

/// Run a `clients` command and print its result.
pub async fn run(p: &Oidc, spec: Spec) -> anyhow::Result<()> {
    match spec {
        Spec::Create {
            name,
            texts,
            redirect_uris,
            jwks,
            jwks_uri,
            profile,
            kek_cert,
            callback_uri,
            scope,
            public_subject,
            ciba,
            ciba_notification_endpoint,
            backchannel_logout_uri,
            post_logout_redirect_uris,
            requester_type,
        } => {
            let mut m = ClientMetadata::for_profile(&name, redirect_uris, profile);
            texts.apply(&mut m);
            m.scope = scope;
            if profile == ClientProfile::IamsmartApi {
                if jwks.is_some() || jwks_uri.is_some() || ciba.is_some() {
                    bail!("--profile iamsmart-api takes no keys (--jwks-file, --jwks-uri) and no --ciba: its calls are HMAC-signed");
                }
                let cert = kek_cert.ok_or_else(|| {
                    anyhow!("--profile iamsmart-api needs --kek-cert FILE (the service's encipherment certificate)")
                })?;
                m.subject_type = if public_subject { "public" } else { "pairwise" }.into();
                m.post_logout_redirect_uris = post_logout_redirect_uris;
                m.iamsmart_requester_type = requester_type;
                let created = iamsmart_domain::osp_api::register(
                    p,
                    m,
                    &cert,
                    callback_uri.as_deref(),
                    "operator:cli",
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
                println!("{}", serde_json::to_string_pretty(&with_scope(&created)?)?);
                return Ok(());
            }
            if kek_cert.is_some() || callback_uri.is_some() {
                bail!("--kek-cert and --callback-uri are for --profile iamsmart-api");
            }
            if jwks.is_some() || jwks_uri.is_some() {
                m.jwks = jwks;
                m.jwks_uri = jwks_uri;
                m.token_endpoint_auth_method = "private_key_jwt".into();
            }
            if public_subject {
                m.subject_type = "public".into();
            }
            if let Some(mode) = ciba {
                m.grant_types.push(CIBA_GRANT.into());
                m.backchannel_token_delivery_mode = Some(mode);
                m.backchannel_client_notification_endpoint = ciba_notification_endpoint;
            }
            m.backchannel_logout_uri = backchannel_logout_uri;
            m.post_logout_redirect_uris = post_logout_redirect_uris;
            m.iamsmart_requester_type = requester_type;
            let created = clients::register(p, m, "operator:cli", true)
                .await
                .map_err(|e| anyhow!("{}: {}", e.error, e.description))?;
            println!("{}", serde_json::to_string_pretty(&with_scope(&created)?)?);
        }
        Spec::InitialToken { hours, uses } => {
            let t = clients::issue_initial_token(
                p,
                "operator:cli",
                hours as i64 * 3_600_000,
                i64::from(uses),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({ "initial_access_token": t, "expires_in": hours * 3600, "uses": uses })
            );
        }
        Spec::Disable { client_id } => {
            clients::disable(p, &client_id, "operator:cli")
                .await
                .map_err(|e| anyhow!("{}: {}", e.error, e.description))?;
            println!("client {client_id} disabled; its grants are revoked");
        }
        Spec::Log { client_id, limit } => {
            for call in
                iamsmart_domain::osp_api::recent_calls(p, &client_id, i64::from(limit)).await?
            {
                println!("{}", serde_json::to_string(&call)?);
            }
        }
    }
    Ok(())
}

/// A registration as JSON, with the client's `scope` always said: when the registration does
/// not limit it, every scope of its profile.
fn with_scope(created: &impl serde::Serialize) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(created)?;
    if v.get("scope").is_none() {
        let every: Vec<String> = if v["iamsmart_profile"] == ClientProfile::IamsmartApi.as_str() {
            iamsmart_domain::osp_api::SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            iamsmart_domain::oidc::claims::supported_scopes()
        };
        v["scope"] = serde_json::Value::String(every.join(" "));
    }
    Ok(v)
}
