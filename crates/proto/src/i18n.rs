//! Texts in the platform's three languages: English, Traditional Chinese (as Hong Kong writes
//! it) and Simplified Chinese (as GovHK offers it, Hong Kong terms kept).
use serde::{Deserialize, Serialize};

/// A reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// English.
    En,
    /// Traditional Chinese (Hong Kong): `zh-Hant`, `zh-HK`.
    ZhHant,
    /// Simplified Chinese: `zh-Hans`, `zh-CN`, `zh-SG`.
    ZhHans,
}

impl Locale {
    /// The language a BCP 47 tag names, if it is one of ours (`zh` alone is Traditional, as in
    /// Hong Kong).
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let t = tag.trim().to_ascii_lowercase();
        let mut parts = t.split(['-', '_']);
        match parts.next()? {
            "en" => Some(Locale::En),
            "zh" => {
                let rest: Vec<&str> = parts.collect();
                if rest
                    .iter()
                    .any(|p| *p == "hans" || *p == "cn" || *p == "sg" || *p == "my")
                {
                    Some(Locale::ZhHans)
                } else {
                    Some(Locale::ZhHant)
                }
            }
            _ => None,
        }
    }

    /// The BCP 47 tag for HTML `lang` and `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhHant => "zh-HK",
            Locale::ZhHans => "zh-Hans",
        }
    }
}

/// A text given in English, and in Traditional and Simplified Chinese where provided. Serialised
/// as `{"en": ..., "zh-Hant": ..., "zh-Hans": ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    /// English (always given).
    pub en: String,
    /// Traditional Chinese.
    #[serde(rename = "zh-Hant", default, skip_serializing_if = "Option::is_none")]
    pub zh_hant: Option<String>,
    /// Simplified Chinese.
    #[serde(rename = "zh-Hans", default, skip_serializing_if = "Option::is_none")]
    pub zh_hans: Option<String>,
}

impl Localized {
    /// Only English.
    pub fn en(text: impl Into<String>) -> Self {
        Localized {
            en: text.into(),
            ..Default::default()
        }
    }

    /// Every language's text that is given (English first).
    pub fn all(&self) -> impl Iterator<Item = &str> {
        [
            Some(self.en.as_str()),
            self.zh_hant.as_deref(),
            self.zh_hans.as_deref(),
        ]
        .into_iter()
        .flatten()
    }

    /// The text for `locale`: Simplified falls back to Traditional (a Chinese reader reads it
    /// better than English), both fall back to English.
    pub fn get(&self, locale: Locale) -> &str {
        fn pick(o: &Option<String>) -> Option<&str> {
            o.as_deref().filter(|s| !s.trim().is_empty())
        }
        match locale {
            Locale::En => &self.en,
            Locale::ZhHant => pick(&self.zh_hant).unwrap_or(&self.en),
            Locale::ZhHans => pick(&self.zh_hans)
                .or_else(|| pick(&self.zh_hant))
                .unwrap_or(&self.en),
        }
    }
}

/// Who is asking, as a resident sees it: the service's name, the department or organisation
/// behind it, and the purpose it states, each in the reader's language where registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetails {
    /// The service's name.
    pub name: Localized,
    /// The department or organisation that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<Localized>,
    /// Why it asks (its registered purpose, or the one the request states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Localized>,
    /// Its full Personal Information Collection Statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_uri: Option<String>,
    /// How many days it keeps the personal data it receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Where to ask it for access to and correction of one's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_contact: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_fallbacks() {
        assert_eq!(Locale::from_tag("zh-HK"), Some(Locale::ZhHant));
        assert_eq!(Locale::from_tag("zh-Hant-HK"), Some(Locale::ZhHant));
        assert_eq!(Locale::from_tag("zh"), Some(Locale::ZhHant));
        assert_eq!(Locale::from_tag("zh-Hans"), Some(Locale::ZhHans));
        assert_eq!(Locale::from_tag("zh_CN"), Some(Locale::ZhHans));
        assert_eq!(Locale::from_tag("en-GB"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        let name = Localized {
            en: "Driving Permit".into(),
            zh_hant: Some("駕駛許可證".into()),
            zh_hans: None,
        };
        assert_eq!(name.get(Locale::ZhHans), "駕駛許可證");
        assert_eq!(Localized::en("X").get(Locale::ZhHant), "X");
        let json = serde_json::to_value(&name).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"en": "Driving Permit", "zh-Hant": "駕駛許可證"})
        );
    }
}
