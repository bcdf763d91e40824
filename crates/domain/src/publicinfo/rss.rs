//! RSS 2.0: the Centre for Food Safety's food alerts and the government's press releases
//! (one feed per language). Items keep their title, an `http(s)` link (any other scheme is
//! dropped: a hostile feed must not put `javascript:` on the page), a plain-text summary of the
//! description (HTML tags removed) and `pubDate`.
use super::time::parse_rfc2822;
use super::{clip, latest, xml_document, FeedError, MAX_ITEMS};
use serde::{Deserialize, Serialize};

/// Longest summary kept of an item's description, in characters.
const SUMMARY_CHARS: usize = 400;

/// One item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RssItem {
    /// Title.
    pub title: String,
    /// Link (`http` or `https`), or empty.
    pub link: String,
    /// The description as plain text, shortened.
    pub summary: String,
    /// `pubDate`.
    pub published: Option<i64>,
}

/// A feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RssFeed {
    /// The channel's `lastBuildDate` or `pubDate`, else the newest item's.
    pub time: Option<i64>,
    /// The channel's title.
    pub title: String,
    /// The channel's link (`http` or `https`), or empty.
    pub link: String,
    /// The items, newest first.
    pub items: Vec<RssItem>,
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace().is_none()
    })
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    child(node, name)
        .map(|c| {
            c.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
        .unwrap_or_default()
}

/// Only absolute `http(s)` links.
fn web_link(s: &str) -> String {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<')
        && s.len() <= 2048
    {
        s.to_string()
    } else {
        String::new()
    }
}

/// Text without HTML tags and the commonest entities, whitespace collapsed, shortened.
pub fn plain_text(html: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(html.len().min(max_chars * 4));
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                out.push(' ');
            }
            (true, '>') => in_tag = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() > max_chars {
        let mut s: String = joined.chars().take(max_chars).collect();
        s.push('…');
        s
    } else {
        joined
    }
}

/// Parse an RSS 2.0 document (`<rss><channel>...<item>...`). A channel with no item is valid.
pub fn parse(body: &str) -> Result<RssFeed, FeedError> {
    let doc = xml_document(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "rss" {
        return Err(FeedError::Shape(format!(
            "the root element is <{}>, not <rss>",
            clip(root.tag_name().name())
        )));
    }
    let channel = child(root, "channel").ok_or_else(|| FeedError::Shape("no <channel>".into()))?;
    let mut items: Vec<RssItem> = channel
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "item")
        .take(MAX_ITEMS)
        .map(|i| RssItem {
            title: clip(&plain_text(&child_text(i, "title"), SUMMARY_CHARS)),
            link: web_link(&child_text(i, "link")),
            summary: plain_text(&child_text(i, "description"), SUMMARY_CHARS),
            published: parse_rfc2822(&child_text(i, "pubDate")),
        })
        .filter(|i| !i.title.is_empty())
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.published));
    let channel_time = parse_rfc2822(&child_text(channel, "lastBuildDate"))
        .or_else(|| parse_rfc2822(&child_text(channel, "pubDate")));
    Ok(RssFeed {
        time: channel_time.or_else(|| latest(items.iter().map(|i| i.published))),
        title: clip(&plain_text(&child_text(channel, "title"), SUMMARY_CHARS)),
        link: web_link(&child_text(channel, "link")),
        items,
    })
}
