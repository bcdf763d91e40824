//! Issue 17: every text a resident reads uses the words of `docs/GLOSSARY.md`. The glossary's
//! table lists, per term, the words never to use in English and in Chinese; this test reads it
//! and scans the string literals of the pages, the resident's web app, the sandbox services and
//! the platform's messages. Chinese text must also say 填表通 (not e-ME) and use full-width
//! punctuation next to Chinese characters. Every Chinese text is checked again as a Simplified
//! Chinese page shows it (converted by `iamsmart_web::simplified`), and the converter is held to
//! the glossary's Simplified column.
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The glossary table's rows, each as its five cells.
fn glossary_rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("docs/GLOSSARY.md")).expect("docs/GLOSSARY.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() != 5 || cells[0] == "English" || cells[0].starts_with("---") {
            continue;
        }
        rows.push(cells.iter().map(|c| c.to_string()).collect());
    }
    assert!(
        rows.len() >= 20,
        "the glossary's table was not found ({} rows)",
        rows.len()
    );
    rows
}

/// The words of a cell (several separated by `/`).
fn words(cell: &str) -> Vec<String> {
    cell.split('/')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// (never in English, never in Chinese), from the glossary's table.
fn avoided() -> (Vec<String>, Vec<String>) {
    let (mut en, mut zh) = (Vec::new(), Vec::new());
    for row in glossary_rows() {
        en.extend(words(&row[3]));
        zh.extend(words(&row[4]));
    }
    (en, zh)
}

#[test]
fn simplified_chinese_is_the_glossarys_simplified_column() {
    let mut wrong = Vec::new();
    for row in glossary_rows() {
        let (hant, hans) = (words(&row[1]), words(&row[2]));
        assert_eq!(
            hant.len(),
            hans.len(),
            "row {row:?}: one Simplified word per Traditional word"
        );
        for (t, expected) in hant.iter().zip(&hans) {
            let got = iamsmart_web::simplified::to_simplified(t);
            if &got != expected {
                wrong.push(format!(
                    "{t}: the glossary says {expected}, the converter gives {got}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// The string literals of a Rust or JavaScript file (comments skipped), with their line.
fn literals(source: &str, js: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 2;
            continue;
        }
        let quote = c == '"' || (js && (c == '\'' || c == '`'));
        if !quote {
            i += 1;
            continue;
        }
        let start_line = line;
        let mut text = String::new();
        i += 1;
        while i < chars.len() && chars[i] != c {
            if chars[i] == '\\' {
                i += 1;
            }
            if let Some(&ch) = chars.get(i) {
                if ch == '\n' {
                    line += 1;
                }
                text.push(ch);
            }
            i += 1;
        }
        i += 1;
        out.push((start_line, text));
    }
    out
}

/// What is wrong with one literal.
fn problems(text: &str, avoid_en: &[String], avoid_zh: &[String], check_en: bool) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    if chars.iter().any(|&c| is_han(c)) {
        for w in avoid_zh {
            if text.contains(w.as_str()) {
                found.push(format!("「{w}」 (see the glossary)"));
            }
        }
        if text.contains("e-ME") {
            found.push("e-ME in Chinese text (it is 填表通)".into());
        }
        for (k, &c) in chars.iter().enumerate() {
            if matches!(c, ':' | ';' | ',' | '(' | ')') {
                let before = k.checked_sub(1).and_then(|j| chars.get(j)).copied();
                let after = chars.get(k + 1).copied();
                if before.is_some_and(is_han) || after.is_some_and(is_han) {
                    found.push(format!("half-width '{c}' next to Chinese (use full width)"));
                }
            }
        }
    } else if check_en {
        for w in avoid_en {
            if text.contains(w.as_str()) {
                found.push(format!("\"{w}\" (see the glossary)"));
            }
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "vendor") {
                continue;
            }
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "rs" || x == "js" || x == "html")
            // Unit tests hold other people's texts as received (the Observatory's warnings).
            && !p
                .file_stem()
                .is_some_and(|n| n == "tests" || n.to_string_lossy().ends_with("_tests"))
        {
            out.push(p);
        }
    }
}

#[test]
fn every_text_a_resident_reads_uses_the_glossary() {
    let (avoid_en, avoid_zh) = avoided();
    // (directory, also check English): the domain's Chinese texts are messages residents read;
    // its English literals are mostly for programmers and logs.
    let dirs = [
        ("crates/web/src", true),
        ("crates/sandbox/src", true),
        ("crates/sandbox/templates", true),
        ("crates/domain/src", false),
    ];
    let mut report = Vec::new();
    let mut scanned = 0;
    for (dir, check_en) in dirs {
        let mut list = Vec::new();
        files(&root().join(dir), &mut list);
        for path in list {
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            let ext = path
                .extension()
                .and_then(|x| x.to_str())
                .unwrap_or_default();
            let found: Vec<(usize, String)> = if ext == "html" {
                source
                    .lines()
                    .enumerate()
                    .map(|(n, l)| (n + 1, l.to_string()))
                    .collect()
            } else {
                literals(&source, ext == "js")
            };
            scanned += found.len();
            let rel = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            for (line, text) in found {
                for p in problems(&text, &avoid_en, &avoid_zh, check_en) {
                    report.push(format!("{rel}:{line}: {p}: {text}"));
                }
                // As a Simplified Chinese page or the web app shows it.
                if text.chars().any(is_han) {
                    let simplified = iamsmart_web::simplified::to_simplified(&text);
                    for p in problems(&simplified, &avoid_en, &avoid_zh, false) {
                        report.push(format!(
                            "{rel}:{line}: in Simplified Chinese, {p}: {simplified}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        scanned > 1000,
        "too few texts found ({scanned}): is the scanner broken?"
    );
    assert!(
        report.is_empty(),
        "{} texts break the glossary (docs/GLOSSARY.md):\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn the_scanner_finds_what_it_should() {
    let (en, zh) = (vec!["Log in".to_string()], vec!["通行密鑰".to_string()]);
    assert_eq!(problems("以通行密鑰登入", &en, &zh, true).len(), 1);
    assert_eq!(problems("用途: 申請", &en, &zh, true).len(), 1);
    assert_eq!(problems("用途：申請 (e-ME)", &en, &zh, true).len(), 1);
    assert_eq!(problems("Log in with iAM Smart", &en, &zh, true).len(), 1);
    assert!(problems("Sign in: now", &en, &zh, true).is_empty());
    let lits = literals("let a = \"x\"; // \"not this\"\nlet b = '登入';", true);
    assert_eq!(lits, vec![(1, "x".to_string()), (2, "登入".to_string())]);
}
