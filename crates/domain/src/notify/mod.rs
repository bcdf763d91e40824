//! Personalised notifications. A service sends one to a resident it knows (by the `sub` it
//! received at login) with its client token (scope `notify`); the platform delivers it only if
//! the resident has used the service and agreed to notifications from it, and the resident reads
//! it in the account pages and the app.
//!
//! - **Content is personal data**: titles, bodies and the link are sealed by the vault in one
//!   value bound to the row (`notifications.content`), never logged, and only opened for the
//!   resident. A send that was not delivered keeps no content and no resident.
//! - **No new knowledge for the service**: a sub the service never received, a closed account
//!   and a resident who has not agreed all get the same answer (`not_delivered`, one reason); the
//!   rate limit counts per (service, sub) whatever happens, so it does not tell them apart either.
//!   The service learns only whether a resident it already knows wants its notifications.
//! - **Idempotency**: the service names each send with a key; a repeat with the same key and the
//!   same request returns the first answer and sends nothing; the same key with another request
//!   is refused.
//! - **Audit**: a delivered notification is appended to the audit log (service, id, category;
//!   no content), so it appears in the resident's dealings; so are changes of preference.
//! - **Retention**: notifications expire (`NotifyPolicy::retention_ms`) and a worker erases them;
//!   closing an account erases them at once.
pub mod inbox;
pub mod send;

#[cfg(test)]
mod tests;

use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::vault::Vault;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The notification service: what services send and the resident's inbox. Built with the
/// handles it uses and nothing else: the database, time and randomness, the vault that seals the
/// content, and its limits. Other capabilities reach it through `Platform::notify`.
#[derive(Clone)]
pub struct Notify {
    env: Env,
    vault: Vault,
    policy: Arc<NotifyPolicy>,
}

impl Notify {
    /// The service on `env`, sealing with `vault`, within `policy`.
    pub fn new(env: Env, vault: Vault, policy: NotifyPolicy) -> Self {
        Self {
            env,
            vault,
            policy: Arc::new(policy),
        }
    }

    /// Its limits and retention.
    pub fn policy(&self) -> &NotifyPolicy {
        &self.policy
    }
}

impl std::ops::Deref for Notify {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// Limits and lifetimes of notifications.
#[derive(Debug, Clone)]
pub struct NotifyPolicy {
    /// How long a delivered notification is kept.
    pub retention_ms: i64,
    /// Notifications one service may send one resident per window.
    pub max_per_resident: i64,
    /// The rate-limit window.
    pub window_ms: i64,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        Self {
            retention_ms: 180 * 86_400_000,
            max_per_resident: 10,
            window_ms: 86_400_000,
        }
    }
}

/// How long a send that was not delivered is remembered (for its idempotency key).
pub const NOT_DELIVERED_TTL_MS: i64 = 86_400_000;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 120;
/// Longest body, in characters.
pub const MAX_BODY: usize = 2000;
/// Longest link, in bytes.
pub const MAX_LINK: usize = 1000;
/// Longest idempotency key.
pub const MAX_KEY: usize = 100;
/// Why a notification was not delivered (the one reason, whatever the cause).
pub const NOT_DELIVERED: &str =
    "not delivered: the resident has not agreed to notifications from this service";

/// A text in English and/or Traditional Chinese.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    /// Traditional Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
}

impl Bilingual {
    /// The text in the language asked for (`zh` or else English), or the other one.
    pub fn pick(&self, zh: bool) -> &str {
        let (first, second) = if zh {
            (&self.zh, &self.en)
        } else {
            (&self.en, &self.zh)
        };
        first.as_deref().or(second.as_deref()).unwrap_or_default()
    }
}

/// What a service sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The resident, by the subject the service received at login.
    pub sub: String,
    /// Title (plain text, up to 120 characters per language).
    pub title: Bilingual,
    /// Body (plain text, up to 2000 characters per language; line breaks kept).
    pub body: Bilingual,
    /// A link to the service's own site (https, the origin of one of its redirect URIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A category of the service's choosing (`a-z`, `0-9`, `-`; up to 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: message.into(),
    }
}

/// Whether a text looks like markup: a tag, comment or declaration (`<` then a letter, `/`, `!`
/// or `?`) or a character reference (`&name;`, `&#...;`). Plain `<` and `&` are fine.
pub fn looks_like_html(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let next = b.get(i + 1).copied().unwrap_or(b' ');
        if c == b'<' && (next.is_ascii_alphabetic() || b"/!?".contains(&next)) {
            return true;
        }
        if c == b'&' {
            let rest = &b[i + 1..];
            let n = rest
                .iter()
                .take_while(|x| x.is_ascii_alphanumeric() || **x == b'#')
                .count();
            if n > 0 && rest.get(n) == Some(&b';') {
                return true;
            }
        }
    }
    false
}

fn check_text(field: &'static str, s: &str, max: usize, lines: bool) -> Result<()> {
    let n = s.chars().count();
    if n == 0 || s.trim().is_empty() {
        return Err(invalid(field, "empty; leave the language out instead"));
    }
    if n > max {
        return Err(invalid(
            field,
            format!("at most {max} characters ({n} given)"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(invalid(
            field,
            if lines {
                "control characters are not allowed (line breaks and tabs are)"
            } else {
                "control characters and line breaks are not allowed"
            },
        ));
    }
    if looks_like_html(s) {
        return Err(invalid(
            field,
            "plain text only: HTML tags and character references are not allowed",
        ));
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`) of an http(s) URL, lower-cased, if it is one without
/// user information.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn is_loopback(origin: &str) -> bool {
    let host = origin
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .rsplit_once(':')
        .map_or_else(
            || origin.split("://").nth(1).unwrap_or_default(),
            |(h, _)| h,
        );
    ["localhost", "127.0.0.1", "[::1]"].contains(&host)
}

/// Check a link against the service's redirect URIs: https (http only for a loopback service
/// registered so), on the origin of one of them, no spaces or control characters.
pub fn check_link(link: &str, redirect_uris: &[String]) -> Result<()> {
    if link.len() > MAX_LINK {
        return Err(invalid("link", format!("at most {MAX_LINK} bytes")));
    }
    if link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("link", "no spaces or control characters"));
    }
    let Some(o) = origin(link) else {
        return Err(invalid(
            "link",
            "an absolute https URL without user information",
        ));
    };
    if !o.starts_with("https://") && !is_loopback(&o) {
        return Err(invalid("link", "links must use https"));
    }
    if !redirect_uris
        .iter()
        .filter_map(|u| origin(u))
        .any(|r| r == o)
    {
        return Err(invalid(
            "link",
            "links go to the service's own site: the origin of one of its registered redirect URIs",
        ));
    }
    Ok(())
}

/// Check an idempotency key: 1 to 100 visible ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "Idempotency-Key",
            format!("send an Idempotency-Key header of 1 to {MAX_KEY} visible ASCII characters, unique per notification"),
        ));
    }
    Ok(())
}

/// Check a request (everything but the link, which needs the client).
pub fn check(req: &SendRequest) -> Result<()> {
    if req.sub.is_empty() || req.sub.len() > 255 || req.sub.chars().any(char::is_control) {
        return Err(invalid(
            "sub",
            "the resident's subject, as received at login",
        ));
    }
    let langs = |t: &Bilingual| (t.en.is_some(), t.zh.is_some());
    if langs(&req.title) == (false, false) {
        return Err(invalid(
            "title",
            "give the title in English (en) and/or Traditional Chinese (zh)",
        ));
    }
    if langs(&req.title) != langs(&req.body) {
        return Err(invalid(
            "body",
            "give the body in the same languages as the title",
        ));
    }
    for (field, t, max, lines) in [
        ("title.en", &req.title.en, MAX_TITLE, false),
        ("title.zh", &req.title.zh, MAX_TITLE, false),
        ("body.en", &req.body.en, MAX_BODY, true),
        ("body.zh", &req.body.zh, MAX_BODY, true),
    ] {
        if let Some(s) = t {
            check_text(field, s, max, lines)?;
        }
    }
    if let Some(c) = &req.category {
        let ok = (1..=40).contains(&c.len())
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(invalid("category", "1 to 40 characters: a-z, 0-9 and -"));
        }
    }
    Ok(())
}

/// What is sealed: everything the service wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Content {
    pub(crate) title: Bilingual,
    pub(crate) body: Bilingual,
    #[serde(default)]
    pub(crate) link: Option<String>,
    #[serde(default)]
    pub(crate) category: Option<String>,
}

pub(crate) const TABLE: &str = "notifications";
pub(crate) const COLUMN: &str = "content";

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &["notifications", "notify_prefs"];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM notifications WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM notify_prefs WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
