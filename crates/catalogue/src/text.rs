//! Text analysis shared by indexing and querying: clean-up of the query text, Chinese folding
//! and tokenisation (jieba words and character bigrams), and the English analyzer.
//!
//! Chinese: jieba's dictionary is Simplified Chinese, so Traditional text is segmented badly
//! (身份證 is not in it; 身份证 is). Both documents and queries are therefore *folded* first:
//! lowercased, and Traditional characters mapped to Simplified ones (fast2s, a character table).
//! Folding happens on both sides, so it changes what matches only by merging variants
//! (身份證, 身分證 and 身份证 all match). Jieba (through tantivy-jieba, search mode) then gives
//! words, and a second field gets the character bigrams of every run of Chinese characters, so
//! that a word jieba splits differently in the query and in the service still matches.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Queries longer than this (in characters) are cut here.
pub const MAX_QUERY_CHARS: usize = 200;

/// Tokenizer names registered with the index.
pub(crate) const ENGLISH: &str = "catalogue_en";
pub(crate) const CHINESE_WORDS: &str = "catalogue_zh_words";
pub(crate) const CHINESE_BIGRAMS: &str = "catalogue_zh_bigrams";

/// Whether `c` is a Chinese (CJK unified or compatibility) ideograph.
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A query's text after clean-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CleanQuery {
    /// The text to analyse: at most [`MAX_QUERY_CHARS`] characters, no control characters,
    /// full-width ASCII made half-width, whitespace collapsed.
    pub text: String,
    /// Whether the input was longer than [`MAX_QUERY_CHARS`].
    pub truncated: bool,
}

/// Cleans up raw query text. Never fails; the result may be empty.
pub(crate) fn clean_query(raw: &str) -> CleanQuery {
    let mut chars = raw.chars();
    let mut text = String::with_capacity(raw.len().min(MAX_QUERY_CHARS * 4));
    let mut last_space = true;
    for c in chars.by_ref().take(MAX_QUERY_CHARS) {
        let c = match c as u32 {
            // Full-width ASCII (Ｉ Ｄ ＋ ...) to ASCII; the ideographic space to a space.
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(' '),
            0x3000 => ' ',
            _ => c,
        };
        // Control and invisible formatting characters (zero-width joiners, bidi marks, BOM)
        // separate words like spaces do.
        let c = if c.is_control() || is_format(c) {
            ' '
        } else {
            c
        };
        if c.is_whitespace() {
            if !last_space {
                text.push(' ');
            }
            last_space = true;
        } else {
            text.push(c);
            last_space = false;
        }
    }
    let truncated = chars.next().is_some();
    if text.ends_with(' ') {
        text.pop();
    }
    CleanQuery { text, truncated }
}

fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// Folds Chinese text for matching: lowercase, Traditional characters to Simplified.
pub(crate) fn fold(text: &str) -> String {
    fast2s::convert(&text.to_lowercase())
}

/// Common words of questions that say nothing about the service (folded, so Simplified).
const CHINESE_STOP_WORDS: &[&str] = &[
    "我", "我的", "我们", "的", "了", "吗", "呢", "啊", "呀", "点样", "点", "如何", "怎样", "怎么",
    "想", "要", "可以", "边度", "边个", "咩", "乜", "几多", "系", "是", "有", "去", "在", "和",
    "及", "或", "与", "嘅", "唔", "同", "一个", "请问", "应该", "需要",
];

/// English words too common to tell services apart, and the words of a question (how, what,
/// my, want, ...), plus single letters.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "i", "me", "my", "mine", "we", "our", "you",
    "your", "he", "she", "his", "her", "him", "them", "its", "how", "what", "where", "when",
    "which", "who", "why", "can", "could", "do", "does", "did", "want", "wants", "need", "needs",
    "much", "many", "please", "should", "would", "am", "have", "has", "from", "about", "up", "so",
    "some", "any", "get", "go", "hk", "hong", "kong",
];

fn english_stop_words() -> impl Iterator<Item = String> {
    ENGLISH_STOP_WORDS
        .iter()
        .map(|w| w.to_string())
        .chain(('a'..='z').map(String::from))
}

/// The English analyzer: words, lowercased, accents removed, stop words removed, stemmed.
pub(crate) fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(english_stop_words()))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The English analyzer without stemming: the words that typo correction compares against.
pub(crate) fn english_words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(english_stop_words()))
        .build()
}

/// The tokens `analyzer` makes of `text`.
pub(crate) fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    analyzer
        .token_stream(text)
        .process(&mut |t: &Token| out.push(t.text.clone()));
    out
}

/// A token stream over tokens made in advance.
pub(crate) struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
    placeholder: Token,
}

impl VecTokenStream {
    fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens,
            next: 0,
            placeholder: Token::default(),
        }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        match self.next.checked_sub(1) {
            Some(i) => &self.tokens[i],
            None => &self.placeholder,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) => &mut self.tokens[i],
            None => &mut self.placeholder,
        }
    }
}

fn token(text: String, position: usize, offset_from: usize) -> Token {
    Token {
        offset_from,
        offset_to: offset_from + text.len(),
        position,
        position_length: 1,
        text,
    }
}

/// Chinese words: folding, then tantivy-jieba in search mode (which also gives the shorter
/// words inside long ones). Tokens without a Chinese character are dropped (the English
/// analyzer covers Latin words), and so are stop words.
#[derive(Clone, Default)]
pub(crate) struct ChineseWordTokenizer {
    jieba: tantivy_jieba::JiebaTokenizer,
}

impl Tokenizer for ChineseWordTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let folded = fold(text);
        let mut out = Vec::new();
        let mut stream = self.jieba.token_stream(&folded);
        while let Some(t) = stream.next() {
            if t.text.chars().any(is_han) && !CHINESE_STOP_WORDS.contains(&t.text.as_str()) {
                out.push(token(t.text.clone(), out.len(), t.offset_from));
            }
        }
        VecTokenStream::new(out)
    }
}

/// Chinese character bigrams: folding, then for every run of Chinese characters each pair of
/// neighbours (a run of one character gives that character).
#[derive(Clone, Default)]
pub(crate) struct ChineseBigramTokenizer;

/// The bigrams of `text` (see [`ChineseBigramTokenizer`]).
pub(crate) fn chinese_bigrams(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for c in folded.chars() {
        if is_han(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl Tokenizer for ChineseBigramTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let tokens = chinese_bigrams(text)
            .into_iter()
            .enumerate()
            .map(|(i, b)| token(b, i, 0))
            .collect();
        VecTokenStream::new(tokens)
    }
}

/// Restricted Damerau-Levenshtein distance (a swap of neighbours counts 1), or `None` when it
/// is over `max`.
pub(crate) fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut rows = vec![vec![0usize; width]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur][0] = i;
        let mut row_min = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1)
                .min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[prev2][j - 2] + 1);
            }
            rows[cur][j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
    }
    let d = rows[a.len() % 3][b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_query_cuts_and_cleans() {
        let q = clean_query("  ＩＤ\u{0}card\u{200b}\t\n 身份證  ");
        assert_eq!(q.text, "ID card 身份證");
        assert!(!q.truncated);
        let long = "稅".repeat(10_000);
        let q = clean_query(&long);
        assert_eq!(q.text.chars().count(), MAX_QUERY_CHARS);
        assert!(q.truncated);
        assert_eq!(clean_query(" \u{7}\u{feff} ").text, "");
    }

    #[test]
    fn bigrams_cover_runs() {
        assert_eq!(chinese_bigrams("身份證"), ["身份", "份证"]);
        assert_eq!(chinese_bigrams("稅 eTAX 公屋"), ["税", "公屋"]);
        assert!(chinese_bigrams("hello 😀").is_empty());
    }

    #[test]
    fn jieba_words_on_traditional_text() {
        let mut t = ChineseWordTokenizer::default();
        let mut words = Vec::new();
        t.token_stream("我想申請公屋及續領身份證")
            .process(&mut |tok: &Token| words.push(tok.text.clone()));
        assert!(words.contains(&"申请".to_string()), "{words:?}");
        assert!(words.contains(&"身份证".to_string()), "{words:?}");
        assert!(!words.contains(&"我".to_string()), "{words:?}");
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("licence", "licnece", 2), Some(1));
        assert_eq!(edit_distance("housing", "housign", 1), Some(1));
        assert_eq!(edit_distance("passport", "pasport", 1), Some(1));
        assert_eq!(edit_distance("library", "hospital", 2), None);
        assert_eq!(edit_distance("", "ab", 2), Some(2));
    }
}
