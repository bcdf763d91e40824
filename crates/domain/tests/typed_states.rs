//! Issue 18: each state column's values are written once. The database refuses values outside a
//! list (migration 0020: `CHECK` constraints on PostgreSQL, triggers on SQLite), and the code
//! knows the values of an enum; this holds the two lists equal, for every constrained column
//! and on both engines, so that adding a state to one and not the other fails here rather than
//! at the first write of the new state in production.
use iamsmart_domain::exchange::consents::{ConsentStatus, FetchType};
use iamsmart_domain::oidc::clients::{ClientProfile, ClientStatus};
use iamsmart_domain::osp_api::callbacks::{TicketKind, TicketStatus};
use iamsmart_domain::signing::ca::UserCertStatus;
use iamsmart_domain::signing::requests::{SignKind, SignRequestStatus};
use iamsmart_proto::app::{ApprovalStatus, DeviceStatus};
use iamsmart_proto::profile::{AccountStatus, Level};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// (table, column) -> the names of the enum that holds the column's values.
fn enums() -> BTreeMap<(&'static str, &'static str), BTreeSet<&'static str>> {
    fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> BTreeSet<&'static str> {
        all.iter().map(|v| name(*v)).collect()
    }
    BTreeMap::from([
        (
            ("approvals", "status"),
            names(&ApprovalStatus::ALL, ApprovalStatus::as_str),
        ),
        (
            ("data_consents", "status"),
            names(&ConsentStatus::ALL, ConsentStatus::as_str),
        ),
        (
            ("data_consents", "fetch_type"),
            names(&FetchType::ALL, FetchType::as_str),
        ),
        (
            ("clients", "profile"),
            names(&ClientProfile::ALL, ClientProfile::as_str),
        ),
        (
            ("clients", "status"),
            names(&ClientStatus::ALL, ClientStatus::as_str),
        ),
        (
            ("sign_requests", "status"),
            names(&SignRequestStatus::ALL, SignRequestStatus::as_str),
        ),
        (
            ("sign_requests", "kind"),
            names(&SignKind::ALL, SignKind::as_str),
        ),
        (("residents", "level"), names(&Level::ALL, Level::as_str)),
        (
            ("residents", "status"),
            names(&AccountStatus::ALL, AccountStatus::as_str),
        ),
        (
            ("devices", "status"),
            names(&DeviceStatus::ALL, DeviceStatus::as_str),
        ),
        (
            ("user_certs", "status"),
            names(&UserCertStatus::ALL, UserCertStatus::as_str),
        ),
        (
            ("osp_api_tickets", "kind"),
            names(&TicketKind::ALL, TicketKind::as_str),
        ),
        (
            ("osp_api_tickets", "status"),
            names(&TicketStatus::ALL, TicketStatus::as_str),
        ),
    ])
}

/// The migrations that constrain states: 0020, and each later one that changes a list (a later
/// definition of a column's list replaces the earlier).
fn migrations(engine: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(engine);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.as_str() >= "0020_typed_states.sql")
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
        .collect()
}

/// (table, column) -> the names a constraint allows.
type Lists = BTreeMap<(String, String), BTreeSet<String>>;

/// The lists in force after every migration of `engine`, as `parse` reads each one, with the
/// constraints written into a new table (the same text on both engines).
fn lists_of(engine: &str, parse: fn(&str) -> Lists) -> Lists {
    let mut out = BTreeMap::new();
    for sql in migrations(engine) {
        out.extend(parse(&sql));
        out.extend(create_table_lists(&sql));
    }
    out
}

/// (table, column) -> allowed names, from a new table's columns:
/// `CREATE TABLE t (` then `    c TEXT NOT NULL CHECK (c IN (...)),`.
fn create_table_lists(sql: &str) -> Lists {
    let mut out = BTreeMap::new();
    let mut table = None;
    for line in sql.lines() {
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            table = rest.split_whitespace().next().map(str::to_string);
        } else if line.starts_with(')') {
            table = None;
        } else if let (Some(t), Some(at)) = (&table, line.find(" CHECK (")) {
            let check = &line[at + " CHECK (".len()..];
            let column = check.split_whitespace().next().unwrap();
            let list = quoted_list(&check[check.find(" IN ").expect("an IN list")..]);
            assert!(
                out.insert((t.clone(), column.to_string()), list).is_none(),
                "{t}.{column} is constrained twice"
            );
        }
    }
    out
}

/// The quoted names of an `IN ('a', 'b')` list that starts at `text`.
fn quoted_list(text: &str) -> BTreeSet<String> {
    let open = text.find('(').expect("an IN list");
    let close = open + text[open..].find(')').expect("the IN list ends");
    text[open + 1..close]
        .split(',')
        .map(|v| v.trim().trim_matches('\'').to_string())
        .collect()
}

/// (table, column) -> allowed names, from the PostgreSQL constraints:
/// `ALTER TABLE t ADD CONSTRAINT n CHECK (c IN (...));`
fn postgres_lists(sql: &str) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for line in sql
        .lines()
        .filter(|l| l.starts_with("ALTER TABLE") && l.contains(" CHECK ("))
    {
        let table = line["ALTER TABLE ".len()..]
            .split_whitespace()
            .next()
            .unwrap();
        let check = &line[line.find("CHECK (").expect("a CHECK") + "CHECK (".len()..];
        let column = check.split_whitespace().next().unwrap();
        let list = quoted_list(&check[check.find(" IN ").expect("an IN list")..]);
        assert!(
            out.insert((table.to_string(), column.to_string()), list)
                .is_none(),
            "{table}.{column} is constrained twice"
        );
    }
    out
}

/// The same from the SQLite triggers: `CREATE TRIGGER ... BEFORE INSERT ON t` then
/// `WHEN NEW.c NOT IN (...)`; the insert and update triggers of a column must agree.
fn sqlite_lists(sql: &str) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut table = None;
    for line in sql.lines() {
        if line.starts_with("CREATE TRIGGER") {
            let on = &line[line.find(" ON ").expect("ON a table") + 4..];
            table = Some(on.split_whitespace().next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix("WHEN NEW.") {
            let column = rest.split_whitespace().next().unwrap().to_string();
            let list = quoted_list(&rest[rest.find(" NOT IN ").expect("NOT IN")..]);
            let key = (table.clone().expect("a trigger before its WHEN"), column);
            if let Some(before) = out.get(&key) {
                assert_eq!(
                    before, &list,
                    "{key:?}: the insert and update triggers differ"
                );
            }
            out.insert(key, list);
        }
    }
    out
}

fn same(engine: &str, found: &BTreeMap<(String, String), BTreeSet<String>>) {
    let want = enums();
    let found_keys: BTreeSet<(String, String)> = found.keys().cloned().collect();
    let want_keys: BTreeSet<(String, String)> = want
        .keys()
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect();
    assert_eq!(
        found_keys, want_keys,
        "{engine}: the constrained columns and the columns with an enum differ"
    );
    for ((table, column), names) in &want {
        let names: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            found[&(table.to_string(), column.to_string())],
            names,
            "{engine}: {table}.{column}: the database's list and the enum's names differ"
        );
    }
}

#[test]
fn every_constrained_state_column_allows_exactly_its_enums_names_on_both_engines() {
    same("postgres", &lists_of("postgres", postgres_lists));
    same("sqlite", &lists_of("sqlite", sqlite_lists));
}

#[test]
fn the_comparison_notices_a_state_missing_from_the_database() {
    let mut lists = lists_of("postgres", postgres_lists);
    lists
        .get_mut(&("approvals".to_string(), "status".to_string()))
        .unwrap()
        .remove("scanned");
    let caught = std::panic::catch_unwind(|| same("postgres", &lists));
    assert!(caught.is_err(), "a missing name must be noticed");
    let mut lists = lists_of("sqlite", sqlite_lists);
    lists.remove(&("residents".to_string(), "level".to_string()));
    assert!(std::panic::catch_unwind(|| same("sqlite", &lists)).is_err());
}
