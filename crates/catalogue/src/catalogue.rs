//! The catalogue: a validated list of services, loaded from TOML files (the bundled data or an
//! operator's edits).
//!
//! A data file is a list of `[[service]]` tables, one per service (see `data/services/*.toml`).
//! Every field is read leniently first, so that a missing or wrong field is reported with the
//! service it belongs to, then checked:
//!
//! - `id`: lowercase ASCII letters, digits and single hyphens, unique in the catalogue;
//! - every text in both languages, not blank; the Chinese text must contain Chinese characters;
//! - `url`: an absolute `https` address with a public host name (or `http` on `localhost` /
//!   `127.0.0.1`, for a service running beside the platform, like the sandbox's demo service);
//! - `client_id`: optional; the service's OpenID Connect client on the platform (one-tap entry);
//! - `themes`, `life_events`, `age_groups`: known slugs (see [`Theme`], [`LifeEvent`],
//!   [`AgeGroup`]); a service needs at least one theme or life event, and one age group;
//! - `requirements.level`: `none`, `basic` or `plus`;
//! - `popularity`: 0 to 100.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{
    AgeGroup, Bilingual, Features, Keywords, Level, LifeEvent, Requirements, Service, Theme,
    MAX_POPULARITY,
};

/// The bundled data files, in the order they are read.
const BUNDLED: &[(&str, &str)] = &[
    (
        "adopters-2023.toml",
        include_str!("../data/services/adopters-2023.toml"),
    ),
    (
        "adopters-2023-rates.toml",
        include_str!("../data/services/adopters-2023-rates.toml"),
    ),
    (
        "residents.toml",
        include_str!("../data/services/residents.toml"),
    ),
    (
        "transport-work-business.toml",
        include_str!("../data/services/transport-work-business.toml"),
    ),
    (
        "community.toml",
        include_str!("../data/services/community.toml"),
    ),
];

/// A validated catalogue of services, in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    services: Vec<Service>,
    by_id: HashMap<String, usize>,
}

impl Catalogue {
    /// Checks `services` (see the module documentation) and makes a catalogue of them.
    pub fn new(services: Vec<Service>) -> Result<Self> {
        let mut by_id = HashMap::with_capacity(services.len());
        for (i, service) in services.iter().enumerate() {
            check_service(service)?;
            if by_id.insert(service.id.clone(), i).is_some() {
                return Err(Error::DuplicateId(service.id.clone()));
            }
        }
        Ok(Self { services, by_id })
    }

    /// The catalogue shipped with this crate (`data/services/*.toml`).
    pub fn bundled() -> Result<Self> {
        Self::from_toml_sources(BUNDLED)
    }

    /// Reads a catalogue from TOML texts, each given with a name for error messages (a file
    /// name, say). Services keep the order of the texts and, in each, of the file.
    pub fn from_toml_sources(sources: &[(&str, &str)]) -> Result<Self> {
        let mut services = Vec::new();
        for (name, text) in sources {
            let file: RawFile = toml::from_str(text).map_err(|e| Error::Syntax {
                source_name: (*name).to_string(),
                message: e.to_string(),
            })?;
            for raw in file.service {
                services.push(raw.into_service()?);
            }
        }
        Self::new(services)
    }

    /// Writes the catalogue as one TOML data file that [`Catalogue::from_toml_sources`] reads
    /// back (for an operator's export or for storing edits).
    pub fn to_toml(&self) -> Result<String> {
        #[derive(serde::Serialize)]
        struct File<'a> {
            service: &'a [Service],
        }
        toml::to_string(&File {
            service: &self.services,
        })
        .map_err(|e| Error::Syntax {
            source_name: "catalogue export".into(),
            message: e.to_string(),
        })
    }

    /// All services, in catalogue order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service with this id.
    pub fn get(&self, id: &str) -> Option<&Service> {
        self.by_id.get(id).map(|&i| &self.services[i])
    }

    /// The position of the service with this id in [`Catalogue::services`].
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The number of services.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether the catalogue has no service.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// A copy of this catalogue with `service` added, or replacing the service with the same id
    /// (which keeps its position). The service is checked like every other.
    pub fn with_service(&self, service: Service) -> Result<Self> {
        let mut services = self.services.clone();
        match self.position(&service.id) {
            Some(i) => services[i] = service,
            None => services.push(service),
        }
        Self::new(services)
    }

    /// A copy of this catalogue without the service `id`, and whether it was there.
    pub fn without_service(&self, id: &str) -> (Self, bool) {
        let services: Vec<Service> = self
            .services
            .iter()
            .filter(|s| s.id != id)
            .cloned()
            .collect();
        let removed = services.len() != self.services.len();
        let by_id = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        (Self { services, by_id }, removed)
    }
}

fn invalid(service: &str, field: &'static str, problem: impl Into<String>) -> Error {
    Error::Invalid {
        service: service.to_string(),
        field,
        problem: problem.into(),
    }
}

fn is_han(c: char) -> bool {
    crate::text::is_han(c)
}

fn check_id(id: &str) -> std::result::Result<(), String> {
    let shape_ok = !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--");
    if shape_ok {
        Ok(())
    } else {
        Err("must be 1 to 80 lowercase letters, digits and single hyphens".into())
    }
}

fn check_text(id: &str, field: &'static str, text: &Bilingual) -> Result<()> {
    if text.en.trim().is_empty() {
        return Err(invalid(id, field, "the English text is missing"));
    }
    if text.zh.trim().is_empty() {
        return Err(invalid(id, field, "the Chinese text is missing"));
    }
    if !text.zh.chars().any(is_han) {
        return Err(invalid(
            id,
            field,
            format!("the Chinese text has no Chinese characters: {:?}", text.zh),
        ));
    }
    Ok(())
}

fn check_url(id: &str, address: &str) -> Result<()> {
    let parsed = url::Url::parse(address)
        .map_err(|e| invalid(id, "url", format!("not a valid address ({e}): {address:?}")))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1"));
    if parsed.scheme() != "https" && !(loopback && parsed.scheme() == "http") {
        return Err(invalid(id, "url", format!("must be https: {address:?}")));
    }
    match parsed.host_str() {
        // A service on this machine (the sandbox's demo service) may be plain http.
        _ if loopback => Ok(()),
        Some(host) if host.contains('.') => Ok(()),
        _ => Err(invalid(
            id,
            "url",
            format!("needs a public host name: {address:?}"),
        )),
    }
}

/// Checks one service; the error names the service and the field.
fn check_service(s: &Service) -> Result<()> {
    check_id(&s.id).map_err(|p| invalid(&s.id, "id", p))?;
    for (field, text) in [
        ("name", &s.name),
        ("department", &s.department),
        ("description", &s.description),
        ("audience", &s.audience),
        ("fees", &s.fees),
    ] {
        check_text(&s.id, field, text)?;
    }
    for document in &s.requirements.documents {
        check_text(&s.id, "requirements.documents", document)?;
    }
    check_url(&s.id, &s.url)?;
    // Signing needs iAM Smart+: a service that offers it must say so (a resident with iAM Smart
    // alone would otherwise set out and be stopped at the signature).
    if s.features.signing && s.requirements.level != Level::Plus {
        return Err(invalid(
            &s.id,
            "requirements",
            "a service that offers digital signing needs iAM Smart+ (plus)",
        ));
    }
    if s.themes.is_empty() && s.life_events.is_empty() {
        return Err(invalid(
            &s.id,
            "themes",
            "a service needs at least one theme or life event",
        ));
    }
    if s.age_groups.is_empty() {
        return Err(invalid(
            &s.id,
            "age_groups",
            "at least one age group is needed",
        ));
    }
    if s.popularity > MAX_POPULARITY {
        return Err(invalid(
            &s.id,
            "popularity",
            format!("must be 0 to {MAX_POPULARITY}, not {}", s.popularity),
        ));
    }
    let blank = |words: &[String]| words.iter().any(|w| w.trim().is_empty());
    if blank(&s.keywords.en) || blank(&s.keywords.zh) {
        return Err(invalid(&s.id, "keywords", "a keyword is blank"));
    }
    Ok(())
}

/// A data file as written: everything optional, so that errors can name the service.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    service: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirements {
    level: Option<String>,
    #[serde(default)]
    documents: Vec<Bilingual>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Option<String>,
    name: Option<Bilingual>,
    department: Option<Bilingual>,
    description: Option<Bilingual>,
    audience: Option<Bilingual>,
    requirements: Option<RawRequirements>,
    fees: Option<Bilingual>,
    url: Option<String>,
    features: Option<Features>,
    #[serde(default)]
    themes: Vec<String>,
    #[serde(default)]
    life_events: Vec<String>,
    #[serde(default)]
    age_groups: Vec<String>,
    popularity: Option<u32>,
    #[serde(default)]
    keywords: Keywords,
    client_id: Option<String>,
}

fn slugs<T>(
    id: &str,
    field: &'static str,
    values: Vec<String>,
    parse: impl Fn(&str) -> Option<T>,
    known: &[&str],
) -> Result<Vec<T>> {
    values
        .iter()
        .map(|v| {
            parse(v).ok_or_else(|| {
                invalid(
                    id,
                    field,
                    format!("unknown value {v:?} (known: {})", known.join(", ")),
                )
            })
        })
        .collect()
}

impl RawService {
    fn into_service(self) -> Result<Service> {
        let id = self.id.unwrap_or_default();
        if id.is_empty() {
            let name = self.name.as_ref().map(|n| n.en.as_str()).unwrap_or("?");
            return Err(invalid(&format!("(no id; name {name:?})"), "id", "missing"));
        }
        let need = |field: &'static str, v: Option<Bilingual>| {
            v.ok_or_else(|| invalid(&id, field, "missing"))
        };
        let requirements = self
            .requirements
            .ok_or_else(|| invalid(&id, "requirements", "missing"))?;
        let level_slug = requirements
            .level
            .ok_or_else(|| invalid(&id, "requirements.level", "missing"))?;
        let level = Level::from_slug(&level_slug).ok_or_else(|| {
            invalid(
                &id,
                "requirements.level",
                format!("unknown value {level_slug:?} (known: none, basic, plus)"),
            )
        })?;
        let theme_slugs: Vec<&str> = Theme::ALL.iter().map(|t| t.slug()).collect();
        let event_slugs: Vec<&str> = LifeEvent::ALL.iter().map(|t| t.slug()).collect();
        let age_slugs: Vec<&str> = AgeGroup::ALL.iter().map(|t| t.slug()).collect();
        Ok(Service {
            name: need("name", self.name)?,
            department: need("department", self.department)?,
            description: need("description", self.description)?,
            audience: need("audience", self.audience)?,
            requirements: Requirements {
                level,
                documents: requirements.documents,
            },
            fees: need("fees", self.fees)?,
            url: self.url.ok_or_else(|| invalid(&id, "url", "missing"))?,
            features: self
                .features
                .ok_or_else(|| invalid(&id, "features", "missing"))?,
            themes: slugs(&id, "themes", self.themes, Theme::from_slug, &theme_slugs)?,
            life_events: slugs(
                &id,
                "life_events",
                self.life_events,
                LifeEvent::from_slug,
                &event_slugs,
            )?,
            age_groups: slugs(
                &id,
                "age_groups",
                self.age_groups,
                AgeGroup::from_slug,
                &age_slugs,
            )?,
            popularity: self
                .popularity
                .ok_or_else(|| invalid(&id, "popularity", "missing"))?,
            keywords: self.keywords,
            client_id: self.client_id.filter(|c| !c.trim().is_empty()),
            id,
        })
    }
}
