//! What a service in the catalogue is: bilingual texts, requirements, features and the
//! citizen-centric tags (themes, life events, age groups) that the cluster pages group by.

use serde::{Deserialize, Serialize};

/// A language of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese (Hong Kong).
    Zh,
}

/// A text in English and Traditional Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// English.
    pub en: String,
    /// Traditional Chinese.
    pub zh: String,
}

impl Bilingual {
    /// Makes a bilingual text.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self {
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// The iAM Smart account level a service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No iAM Smart account is needed (the service has its own login or none).
    None,
    /// iAM Smart: login, form filling, notifications.
    Basic,
    /// iAM Smart+: adds digital signing.
    Plus,
}

impl Level {
    /// The slug used in the data files: `none`, `basic` or `plus`.
    pub fn slug(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Basic => "basic",
            Level::Plus => "plus",
        }
    }

    /// The level named by `slug`.
    pub fn from_slug(slug: &str) -> Option<Self> {
        [Level::None, Level::Basic, Level::Plus]
            .into_iter()
            .find(|l| l.slug() == slug)
    }
}

/// What a resident needs to use a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The iAM Smart level.
    pub level: Level,
    /// Documents to have at hand.
    pub documents: Vec<Bilingual>,
}

/// Which iAM Smart features a service supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Login with iAM Smart, one tap from the portal.
    pub one_tap_login: bool,
    /// Form filling from e-ME.
    pub form_filling: bool,
    /// Digital signing with iAM Smart+.
    pub signing: bool,
}

/// Extra search words for a service: other names residents use for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keywords {
    /// English words and phrases.
    pub en: Vec<String>,
    /// Chinese words and phrases.
    pub zh: Vec<String>,
}

/// Defines a tag enum whose values have a slug (used in the data files and URLs).
macro_rules! slug_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $slug:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $slug)] $variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The slug used in the data files and URLs.
            pub fn slug(self) -> &'static str {
                match self {
                    $($name::$variant => $slug,)+
                }
            }

            /// The value named by `slug`.
            pub fn from_slug(slug: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.slug() == slug)
            }
        }
    };
}

slug_enum! {
    /// A citizen-centric theme.
    Theme {
        /// Schools, student finance, learning.
        Education = "education",
        /// Driving, vehicles, public transport.
        Transport = "transport",
        /// Visiting and travelling.
        Tourism = "tourism",
        /// Identity documents, visas, births, deaths and marriages.
        Immigration = "immigration",
        /// Health records, clinics, vouchers.
        Health = "health",
        /// Public and subsidised housing, tenancies, property.
        Housing = "housing",
        /// Tax, stamp duty, rates and government rent.
        TaxAndRates = "tax-and-rates",
        /// Jobs, training, MPF, workplace.
        Employment = "employment",
        /// Companies, licences, trade.
        BusinessAndTrade = "business-and-trade",
        /// Sport, libraries, culture.
        LeisureAndCulture = "leisure-and-culture",
        /// Waste, recycling, air, weather.
        Environment = "environment",
        /// Police, fire, emergencies.
        Safety = "safety",
    }
}

slug_enum! {
    /// A life event that brings services of several departments together.
    LifeEvent {
        /// Having a baby.
        HavingABaby = "having-a-baby",
        /// A child starting school.
        StartingSchool = "starting-school",
        /// Moving home.
        MovingHome = "moving-home",
        /// Getting married.
        GettingMarried = "getting-married",
        /// Starting a business.
        StartingABusiness = "starting-a-business",
        /// Looking for or starting a job.
        GettingAJob = "getting-a-job",
        /// Retiring.
        Retiring = "retiring",
        /// Learning to drive, owning a vehicle.
        Driving = "driving",
        /// Travelling abroad.
        Travelling = "travelling",
        /// The death of a family member.
        LosingALovedOne = "losing-a-loved-one",
    }
}

slug_enum! {
    /// Who a service is mainly for, by age.
    AgeGroup {
        /// Young people and students.
        Youth = "youth",
        /// Older people.
        Elderly = "elderly",
        /// Everyone.
        All = "all",
    }
}

/// One online service in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Stable identifier: lowercase letters, digits and hyphens.
    pub id: String,
    /// The service's name.
    pub name: Bilingual,
    /// The department or public body that runs it.
    pub department: Bilingual,
    /// What the service does, for residents.
    pub description: Bilingual,
    /// Who it is for.
    pub audience: Bilingual,
    /// What a resident needs to use it.
    pub requirements: Requirements,
    /// What it costs.
    pub fees: Bilingual,
    /// The public address of the service or its department's page (https).
    pub url: String,
    /// The iAM Smart features it supports.
    pub features: Features,
    /// Themes it belongs to.
    pub themes: Vec<Theme>,
    /// Life events it belongs to.
    pub life_events: Vec<LifeEvent>,
    /// Age groups it is for.
    pub age_groups: Vec<AgeGroup>,
    /// How much residents use it, 0 to 100 (an editorial estimate; a mild ranking factor).
    pub popularity: u32,
    /// Other names residents use for it.
    pub keywords: Keywords,
    /// The service's OpenID Connect client on this platform, when it is one: the portal then
    /// offers one-tap entry (third-party-initiated login at the client's `initiate_login_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// The highest popularity a service can have.
pub const MAX_POPULARITY: u32 = 100;
