//! The Transport Department's special traffic news
//! (`resource.data.one.gov.hk/td/{en,tc}/specialtrafficnews.xml`): one `<message>` per notice,
//! each in both languages (`EngText`/`EngShort`, `ChinText`/`ChinShort`), with a
//! `ReferenceDate` in Hong Kong time and a Chinese AM/PM marker (` 2017/9/16 上午 07:20:43`).
use super::time::parse_td;
use super::{clip, latest, xml_document, FeedError, MAX_ITEMS};
use serde::{Deserialize, Serialize};

/// One notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficMessage {
    /// `msgID`.
    pub id: String,
    /// `CurrentStatus`, as the feed gives it.
    pub status: String,
    /// The notice in English (`EngShort`, else `EngText`).
    pub text_en: String,
    /// The notice in Traditional Chinese (`ChinShort`, else `ChinText`).
    pub text_tc: String,
    /// `ReferenceDate`.
    pub time: Option<i64>,
    /// `IncidentRefNo`, if any.
    pub incident: String,
}

/// The special traffic news.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficNews {
    /// The latest `ReferenceDate`.
    pub time: Option<i64>,
    /// The notices, newest first.
    pub items: Vec<TrafficMessage>,
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .map(|c| {
            let s: String = c
                .descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect();
            clip(&s)
        })
        .unwrap_or_default()
}

/// Parse the special traffic news. The root must be `<body>` (any namespace); a document with
/// no message is valid (no news).
pub fn parse(body: &str) -> Result<TrafficNews, FeedError> {
    let doc = xml_document(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "body" {
        return Err(FeedError::Shape(format!(
            "the root element is <{}>, not <body>",
            clip(root.tag_name().name())
        )));
    }
    let mut items: Vec<TrafficMessage> = root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "message")
        .take(MAX_ITEMS)
        .map(|m| {
            let pick = |short: &str, long: &str| {
                let s = child_text(m, short);
                if s.is_empty() {
                    child_text(m, long)
                } else {
                    s
                }
            };
            TrafficMessage {
                id: child_text(m, "msgID"),
                status: child_text(m, "CurrentStatus"),
                text_en: pick("EngShort", "EngText"),
                text_tc: pick("ChinShort", "ChinText"),
                time: parse_td(&child_text(m, "ReferenceDate")),
                incident: child_text(m, "IncidentRefNo"),
            }
        })
        .filter(|m| !(m.text_en.is_empty() && m.text_tc.is_empty()))
        .collect();
    items.sort_by_key(|m| std::cmp::Reverse(m.time));
    Ok(TrafficNews {
        time: latest(items.iter().map(|m| m.time)),
        items,
    })
}
