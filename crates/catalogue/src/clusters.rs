//! Citizen-centric clusters: one page per theme, life event and age group, bringing together
//! the services of different departments.

use crate::catalogue::Catalogue;
use crate::model::{AgeGroup, LifeEvent, Service, Theme};

/// A group of services with a page of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cluster {
    /// A theme (education, transport, ...).
    Theme(Theme),
    /// A life event (having a baby, moving home, ...).
    LifeEvent(LifeEvent),
    /// An age group (youth, elderly).
    AgeGroup(AgeGroup),
}

/// A cluster with its titles and short introductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster.
    pub cluster: Cluster,
    /// English title.
    pub title_en: &'static str,
    /// Chinese title.
    pub title_zh: &'static str,
    /// English introduction, one sentence.
    pub intro_en: &'static str,
    /// Chinese introduction, one sentence.
    pub intro_zh: &'static str,
}

impl Cluster {
    /// The kind of cluster and its slug, for URLs: `theme/education`, `life-event/moving-home`,
    /// `age-group/elderly`.
    pub fn path(self) -> String {
        match self {
            Cluster::Theme(t) => format!("theme/{}", t.slug()),
            Cluster::LifeEvent(e) => format!("life-event/{}", e.slug()),
            Cluster::AgeGroup(a) => format!("age-group/{}", a.slug()),
        }
    }

    /// The cluster at `path` (see [`Cluster::path`]).
    pub fn from_path(path: &str) -> Option<Self> {
        let (kind, slug) = path.split_once('/')?;
        match kind {
            "theme" => Theme::from_slug(slug).map(Cluster::Theme),
            "life-event" => LifeEvent::from_slug(slug).map(Cluster::LifeEvent),
            "age-group" => AgeGroup::from_slug(slug).map(Cluster::AgeGroup),
            _ => None,
        }
    }

    /// Titles and introductions.
    pub fn info(self) -> ClusterInfo {
        let (title_en, title_zh, intro_en, intro_zh) = match self {
            Cluster::Theme(t) => theme_text(t),
            Cluster::LifeEvent(e) => life_event_text(e),
            Cluster::AgeGroup(a) => age_group_text(a),
        };
        ClusterInfo {
            cluster: self,
            title_en,
            title_zh,
            intro_en,
            intro_zh,
        }
    }

    /// Whether `service` belongs to this cluster.
    pub fn contains(self, service: &Service) -> bool {
        match self {
            Cluster::Theme(t) => service.themes.contains(&t),
            Cluster::LifeEvent(e) => service.life_events.contains(&e),
            Cluster::AgeGroup(a) => service.age_groups.contains(&a),
        }
    }
}

type Texts = (&'static str, &'static str, &'static str, &'static str);

fn theme_text(theme: Theme) -> Texts {
    match theme {
        Theme::Education => (
            "Education",
            "教育",
            "School places, student finance and learning at any age.",
            "學位申請、學生資助及終身學習。",
        ),
        Theme::Transport => (
            "Transport",
            "交通",
            "Driving licences, vehicles, tolls and getting around.",
            "駕駛執照、車輛、隧道費及出行資訊。",
        ),
        Theme::Tourism => (
            "Tourism",
            "旅遊",
            "Visiting Hong Kong and travelling abroad.",
            "訪港旅遊及出外旅行。",
        ),
        Theme::Immigration => (
            "Immigration",
            "入境事務",
            "Identity cards, passports, visas, births, marriages and deaths.",
            "身份證、護照、簽證，以及出生、婚姻和死亡登記。",
        ),
        Theme::Health => (
            "Health",
            "醫療健康",
            "Your health records, clinics, vouchers and screening.",
            "個人健康紀錄、診所、醫療券及篩查。",
        ),
        Theme::Housing => (
            "Housing",
            "房屋",
            "Public and subsidised housing, tenancies and property.",
            "公營及資助房屋、租務及物業。",
        ),
        Theme::TaxAndRates => (
            "Tax and rates",
            "稅務及差餉",
            "Tax returns, stamp duty, rates and government rent.",
            "報稅、印花稅、差餉及地租。",
        ),
        Theme::Employment => (
            "Employment",
            "就業",
            "Finding a job, training, MPF and rights at work.",
            "求職、培訓、強積金及勞工權益。",
        ),
        Theme::BusinessAndTrade => (
            "Business and trade",
            "工商貿易",
            "Starting and running a business, licences and trade.",
            "開業及營商、牌照及貿易。",
        ),
        Theme::LeisureAndCulture => (
            "Leisure and culture",
            "康樂文化",
            "Sports facilities, libraries, museums and shows.",
            "體育設施、圖書館、博物館及表演節目。",
        ),
        Theme::Environment => (
            "Environment",
            "環境",
            "Recycling, waste, air quality and the weather.",
            "回收、廢物、空氣質素及天氣。",
        ),
        Theme::Safety => (
            "Safety",
            "公共安全",
            "Police, fire safety, emergencies and travel alerts.",
            "警務、防火安全、緊急事故及外遊警示。",
        ),
    }
}

fn life_event_text(event: LifeEvent) -> Texts {
    match event {
        LifeEvent::HavingABaby => (
            "Having a baby",
            "生育",
            "Registering the birth, health checks and support for your family.",
            "出生登記、母嬰健康及家庭支援。",
        ),
        LifeEvent::StartingSchool => (
            "Starting school",
            "入學",
            "From kindergarten to secondary school: places, grants and health.",
            "由幼稚園到中學：學位、資助及學生健康。",
        ),
        LifeEvent::MovingHome => (
            "Moving home",
            "搬屋",
            "Housing, tenancies, utilities and changing your address.",
            "房屋、租務、水電及更改地址。",
        ),
        LifeEvent::GettingMarried => (
            "Getting married",
            "結婚",
            "Giving notice, the ceremony and the documents afterwards.",
            "遞交結婚通知、婚禮及婚後文件。",
        ),
        LifeEvent::StartingABusiness => (
            "Starting a business",
            "創業",
            "Registering a company or business and the licences you need.",
            "註冊公司或業務及所需牌照。",
        ),
        LifeEvent::GettingAJob => (
            "Getting a job",
            "求職就業",
            "Job search, training, visas for work and your MPF.",
            "求職、培訓、工作簽證及強積金。",
        ),
        LifeEvent::Retiring => (
            "Retiring",
            "退休",
            "Pensions, MPF, allowances and services for later life.",
            "長俸、強積金、津貼及晚年服務。",
        ),
        LifeEvent::Driving => (
            "Driving",
            "駕駛",
            "Learning to drive, licences, tolls and driving across the boundary.",
            "學車、牌照、隧道費及跨境駕駛。",
        ),
        LifeEvent::Travelling => (
            "Travelling",
            "外遊",
            "Passports, travel alerts, records and driving abroad.",
            "護照、外遊警示、出入境記錄及海外駕駛。",
        ),
        LifeEvent::LosingALovedOne => (
            "Losing a loved one",
            "親人離世",
            "Registering a death and arranging niches and other services.",
            "死亡登記及骨灰龕位等安排。",
        ),
    }
}

fn age_group_text(group: AgeGroup) -> Texts {
    match group {
        AgeGroup::Youth => (
            "Youth",
            "青年",
            "Services for students and young people starting out.",
            "為學生及初出社會的年青人而設的服務。",
        ),
        AgeGroup::Elderly => (
            "Elderly",
            "長者",
            "Allowances, health care and concessions for older people.",
            "長者津貼、醫療及優惠。",
        ),
        AgeGroup::All => (
            "Everyone",
            "所有人",
            "Services for people of every age.",
            "適合所有年齡人士的服務。",
        ),
    }
}

/// Every cluster that has a page: the themes, the life events, then the youth and elderly age
/// groups (services for everyone are not a page of their own).
pub fn clusters() -> Vec<ClusterInfo> {
    Theme::ALL
        .iter()
        .map(|&t| Cluster::Theme(t))
        .chain(LifeEvent::ALL.iter().map(|&e| Cluster::LifeEvent(e)))
        .chain([
            Cluster::AgeGroup(AgeGroup::Youth),
            Cluster::AgeGroup(AgeGroup::Elderly),
        ])
        .map(Cluster::info)
        .collect()
}

impl Catalogue {
    /// The services of `cluster`, most popular first (ties by English name).
    pub fn services_in(&self, cluster: Cluster) -> Vec<&Service> {
        let mut services: Vec<&Service> = self
            .services()
            .iter()
            .filter(|s| cluster.contains(s))
            .collect();
        services.sort_by(|a, b| {
            b.popularity
                .cmp(&a.popularity)
                .then_with(|| a.name.en.cmp(&b.name.en))
        });
        services
    }
}
