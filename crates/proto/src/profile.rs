//! The resident's profile: the e-ME fields of the real platform. Fields confirmed by the
//! Immigration Department's registry are *verified* and read-only; the others the resident edits.
use serde::{Deserialize, Serialize};

/// Fields confirmed against the registry (read-only for the resident).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedIdentity {
    /// HKID in display form, e.g. `A123456(3)`.
    pub hkid: String,
    /// English name as on the card, e.g. `CHAN, Tai Man`.
    pub name_en: String,
    /// Chinese name, if the card has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
}

impl std::fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedIdentity { .. }")
    }
}

/// A telephone number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    /// Country calling code without `+`, e.g. `852`.
    pub country_code: String,
    /// The number, digits only.
    pub subscriber_number: String,
}

/// A structured Hong Kong address (after the HK Interoperability Framework address schema).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Flat or room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<String>,
    /// Floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    /// Block or tower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
    /// Building name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
    /// Estate or village.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estate: Option<String>,
    /// Street number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    /// Street name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// District (one of the 18 District Council districts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// `HK` (Hong Kong Island), `KLN` (Kowloon) or `NT` (New Territories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The fields the resident maintains themself.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Title: `Mr`, `Mrs`, `Ms`, `Miss`, `Dr`, `Prof`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `single`, `married`, `divorced`, `widowed`, `separated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marital_status: Option<String>,
    /// Home telephone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_tel: Option<Phone>,
    /// Office telephone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_tel: Option<Phone>,
    /// Mobile telephone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Phone>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Residential address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residential_address: Option<Address>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<Address>,
    /// Highest education: `primary`, `secondary`, `post_secondary`, `degree`, `postgraduate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_level: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Profile { .. }")
    }
}

crate::text_enum! {
    /// An account's level. Stored and sent as its lower-case name (the database refuses any
    /// other: `residents_level_known`); iAM Smart+ ranks above iAM Smart.
    #[derive(PartialOrd, Ord)]
    pub enum Level {
        /// iAM Smart: login, form filling, notifications.
        Basic = "basic",
        /// iAM Smart+: identity proven in person or by a face match; adds digital signing.
        Plus = "plus",
    }
}

crate::text_enum! {
    /// Where an account stands. Stored and sent as its lower-case name (the database refuses
    /// any other: `residents_status_known`).
    pub enum AccountStatus {
        /// In use.
        Active = "active",
        /// Suspended by an officer; nothing can be done with it until it is reinstated.
        Suspended = "suspended",
        /// Closed; its personal data are erased after the retention period.
        Closed = "closed",
    }
}

/// What the resident sees of their own record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResidentView {
    /// The resident's id (pseudonymous).
    pub id: String,
    /// iAM Smart or iAM Smart+.
    pub level: Level,
    /// Active, suspended or closed.
    pub status: AccountStatus,
    /// How they registered: `app`, `counter`, `kiosk` or `sandbox`.
    pub channel: String,
    /// Registry-confirmed fields.
    pub verified: VerifiedIdentity,
    /// Fields the resident maintains.
    pub profile: Profile,
    /// Registered (Unix ms).
    pub created_at: i64,
}
