//! Issue 18: every table has one owning module, and nobody else queries it. The owners (and the
//! cross-reads still to be moved) are the table in `docs/ARCHITECTURE.md`; the tables are those
//! the migrations create; the queries are found by a plain scan of the sources for
//! `FROM`/`INTO`/`UPDATE`/`JOIN`/`TABLE` followed by a table's name.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// The first identifier of `text`.
fn ident(text: &str) -> String {
    text.trim_start()
        .trim_start_matches("if not exists")
        .trim_start_matches("if exists")
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The tables the migrations leave (both engines have the same ones): created, less those
/// dropped, renamed as renamed, in the migrations' order.
fn tables() -> BTreeSet<String> {
    let mut list = Vec::new();
    files(
        &root().join("crates/store/migrations/sqlite"),
        "sql",
        &mut list,
    );
    list.sort();
    let mut out = BTreeSet::new();
    for f in list {
        let text = std::fs::read_to_string(&f).unwrap().to_ascii_lowercase();
        for statement in text.split(';') {
            let sql: Vec<&str> = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect();
            let joined = sql.join("\n");
            let s = joined.trim();
            if let Some(rest) = s.find("create table").map(|i| &s[i + 12..]) {
                out.insert(ident(rest));
            } else if let Some(rest) = s.strip_prefix("drop table") {
                out.remove(&ident(rest));
            } else if let Some(rest) = s.strip_prefix("alter table") {
                if let Some((_, to)) = rest.split_once("rename to") {
                    out.remove(&ident(rest));
                    out.insert(ident(to));
                }
            }
        }
    }
    out.remove("");
    assert!(
        out.len() > 30,
        "the schema was not found ({} tables)",
        out.len()
    );
    out
}

/// table -> (owner, modules still allowed to query it), from the architecture document.
fn owners() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Tables and their owners")
        .nth(1)
        .expect("docs/ARCHITECTURE.md has a section 'Tables and their owners'");
    // The section ends at the next heading.
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut out = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() != 3 || !cells[0].starts_with('`') {
            continue;
        }
        let also = cells[2]
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        out.insert(
            cells[0].trim_matches('`').to_string(),
            (cells[1].to_string(), also),
        );
    }
    out
}

/// The module a source file belongs to: `domain`'s first path component, else the crate.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(root().join("crates")).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().map(String::as_str) == Some("domain") && parts.len() > 2 {
        parts[2].trim_end_matches(".rs").to_string()
    } else {
        parts.first().cloned().unwrap_or_default()
    }
}

/// Whether `sql` (lower case) queries `table`.
fn queries(sql: &str, table: &str) -> bool {
    ["from", "into", "update", "join", "table"]
        .iter()
        .any(|kw| {
            sql.match_indices(kw).any(|(i, _)| {
                let before_ok = i == 0 || !sql.as_bytes()[i - 1].is_ascii_alphanumeric();
                let rest = &sql[i + kw.len()..];
                let trimmed = rest.trim_start();
                before_ok
                    && trimmed.len() < rest.len()
                    && trimmed.starts_with(table)
                    && !trimmed[table.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
}

/// Whether `sql` (lower case) queries a table whose name is formatted in at run time: a line
/// with a statement's verb and `from {name}`, `into {name}`, `update {name}` or `join {name}`.
fn dynamic_table(sql: &str) -> bool {
    sql.lines().any(|line| {
        let statement = ["select ", "delete ", "insert ", "update "]
            .iter()
            .any(|verb| line.contains(verb));
        statement
            && ["from {", "into {", "update {", "join {"].iter().any(|kw| {
                line.match_indices(kw).any(|(i, _)| {
                    let name: String = line[i + kw.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    !name.is_empty() && line[i + kw.len() + name.len()..].starts_with('}')
                })
            })
    })
}

#[test]
fn every_table_has_one_owner_and_only_listed_modules_query_it() {
    let tables = tables();
    let owners = owners();
    let mut problems = Vec::new();
    for t in &tables {
        if !owners.contains_key(t) {
            problems.push(format!("table {t} has no owner in docs/ARCHITECTURE.md"));
        }
    }
    for t in owners.keys() {
        if !tables.contains(t) {
            problems.push(format!(
                "docs/ARCHITECTURE.md lists {t}, which the schema lacks"
            ));
        }
    }
    let mut sources = Vec::new();
    files(&root().join("crates"), "rs", &mut sources);
    // table -> modules that query it.
    let mut found: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in &sources {
        let rel = f.to_string_lossy();
        if rel.contains("/tests/") || rel.contains("/migrations/") {
            continue;
        }
        // Comments are prose ("derived from keys"), not queries.
        let text: String = std::fs::read_to_string(f)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for t in &tables {
            if queries(&text, t) {
                found.entry(t).or_default().insert(module_of(f));
            }
        }
        // A table named at run time hides who queries it from this scan. Only the vault walks
        // tables (the sealed columns `vault::SEALED_COLUMNS` lists, to re-wrap them); tests
        // may count rows of a list of tables.
        let walks_tables = module_of(f) == "vault" || rel.ends_with("tests.rs");
        if !walks_tables && dynamic_table(&text) {
            problems.push(format!(
                "{} names a table at run time (FROM {{table}}): write each query out so that its table's owner is clear",
                f.strip_prefix(root()).unwrap_or(f).display()
            ));
        }
    }
    for (t, (owner, also)) in &owners {
        let users = found.get(t.as_str()).cloned().unwrap_or_default();
        for m in &users {
            if m != owner && !also.contains(m) {
                problems.push(format!(
                    "{m} queries {t}, which {owner} owns: call {owner}'s functions"
                ));
            }
        }
        for m in also {
            if !users.contains(m) {
                problems.push(format!(
                    "{m} no longer queries {t}: take it off the list in docs/ARCHITECTURE.md"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_queries_and_not_other_words() {
    assert!(dynamic_table("delete from {table} where resident_id = $1"));
    assert!(!dynamic_table("select {columns} from data_consents c"));
    assert!(!dynamic_table(
        "root crl renewed: number {}, next update {} (served)"
    ));
    assert!(!dynamic_table("ok(update {\n"));
    assert!(queries("select * from residents where", "residents"));
    assert!(queries("insert into\n   residents (id)", "residents"));
    assert!(queries("update devices set", "devices"));
    assert!(queries("a join keys k on", "keys"));
    assert!(!queries("select * from residents_old", "residents"));
    assert!(!queries("transform keys", "keys"));
    assert!(!queries("from_residents", "residents"));
}
