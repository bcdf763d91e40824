//! The demo service as a witness of the platform's transparency log, as the integration guide
//! asks of every service: it pins the log's keys at first contact, keeps the heads it saw (in a
//! file when configured, so that a restart does not make it forget) and checks each newer head's
//! consistency proof ([`iamsmart_crypto::witness::observe`]). It looks at every login's answer,
//! before it believes it, and whenever its operator asks (`GET /log-witness`). On an alarm it
//! stops accepting logins and says so in its error log: a platform whose log was cut short or
//! rewritten may be showing this service a history that others do not see.
use crate::demo_service::Demo;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use iamsmart_crypto::witness::{WitnessError, WitnessState};
use std::sync::Arc;

/// What the service saw of the log, and the alarm it raised, if any.
#[derive(Default)]
pub(crate) struct LogWitness {
    /// Read from the file at the first look.
    state: Option<WitnessState>,
    /// The alarm, once raised: it stays (the state file keeps the heads that raised it, so a
    /// restart raises it again).
    alarm: Option<String>,
}

/// What a look at the log found.
pub(crate) enum Look {
    /// The newest head extends what was seen before (size).
    Consistent(u64),
    /// The log could not be asked; nothing is concluded.
    Unavailable(String),
    /// The log did what an honest log never does.
    Alarm(String),
}

impl Demo {
    /// Look at the log now (one look at a time).
    pub(crate) async fn witness_log(&self) -> Look {
        let mut w = self.witness.lock().await;
        if let Some(alarm) = &w.alarm {
            return Look::Alarm(alarm.clone());
        }
        let path = self.cfg.witness_state.as_deref();
        if w.state.is_none() {
            let loaded = match path {
                Some(p) => WitnessState::load(p),
                None => Ok(WitnessState::default()),
            };
            match loaded {
                Ok(state) => w.state = Some(state),
                Err(e) => return Look::Unavailable(e.to_string()),
            }
        }
        let mut state = w.state.clone().unwrap_or_default();
        let http = &self.http;
        let seen = iamsmart_crypto::witness::observe(
            |url| get_json(http, url),
            &self.cfg.platform_backchannel,
            &mut state,
            &[],
        )
        .await;
        match seen {
            Ok(o) => {
                if let Some(p) = path {
                    if let Err(e) = state.save(p) {
                        return Look::Unavailable(e.to_string());
                    }
                }
                w.state = Some(state);
                Look::Consistent(o.head.tree_size)
            }
            Err(WitnessError::Alarm(a)) => {
                tracing::error!(alarm = %a, "the platform's transparency log failed the demo service's check: logins are refused");
                w.alarm = Some(a.to_string());
                Look::Alarm(a.to_string())
            }
            Err(WitnessError::Unavailable(why)) => {
                tracing::warn!(%why, "the demo service could not check the transparency log");
                Look::Unavailable(why)
            }
        }
    }
}

/// GET one document of the log (through the back channel) as JSON.
async fn get_json(http: &reqwest::Client, url: String) -> Result<serde_json::Value, String> {
    let res = http.get(&url).send().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    res.json().await.map_err(|e| format!("{url}: {e}"))
}

/// `GET /log-witness`: look at the log now and say what was found (for the service's operator).
pub(crate) async fn status(State(s): State<Arc<Demo>>) -> Response {
    let (status, detail, tree_size) = match s.witness_log().await {
        Look::Consistent(n) => ("consistent", None, Some(n)),
        Look::Unavailable(why) => ("unavailable", Some(why), None),
        Look::Alarm(a) => ("alarm", Some(a), None),
    };
    Json(serde_json::json!({
        "status": status,
        "tree_size": tree_size,
        "detail": detail,
    }))
    .into_response()
}
