-- Core of the platform: keys, settings, the audit / transparency log, residents.
-- Types used: BIGINT, TEXT, BLOB (PostgreSQL: BIGINT, TEXT, BYTEA). Times are Unix milliseconds.

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

CREATE TABLE keys (
    kid TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,           -- token | log | kek
    alg TEXT NOT NULL,               -- ES256 | EdDSA | RS256 | A256GCM
    backend TEXT NOT NULL,           -- file | pkcs11
    handle BLOB NOT NULL,            -- sealed key (file) or CKA_ID (pkcs11)
    public_jwk TEXT,                 -- signing keys only
    created_at BIGINT NOT NULL,
    publish_at BIGINT NOT NULL,      -- in the JWKS from
    activate_at BIGINT NOT NULL,     -- signs / wraps from
    retire_at BIGINT                 -- out of the JWKS and unusable from (NULL: not scheduled)
);
CREATE INDEX keys_by_purpose ON keys (purpose, activate_at);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL
);
INSERT INTO audit_head (id, size) VALUES (1, 0);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_id TEXT,
    leaf_hash BLOB NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

CREATE TABLE merkle_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE tree_heads (
    tree_size BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    root_hash BLOB NOT NULL,
    signature TEXT NOT NULL
);

CREATE TABLE residents (
    id TEXT PRIMARY KEY NOT NULL,
    hkid_index BLOB NOT NULL,         -- keyed blind index of the HKID (lookups, uniqueness)
    hkid BLOB NOT NULL,               -- sealed; registry-verified fields follow
    name_en BLOB NOT NULL,
    name_zh BLOB,
    date_of_birth BLOB NOT NULL,
    gender BLOB,
    profile BLOB,                     -- sealed JSON: the fields the resident maintains
    level TEXT NOT NULL,             -- basic | plus
    status TEXT NOT NULL,            -- active | suspended | closed
    channel TEXT NOT NULL,           -- app | counter | kiosk | sandbox | operator
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    purge_at BIGINT                  -- closed accounts: personal data erased from this time
);
CREATE UNIQUE INDEX residents_by_hkid ON residents (hkid_index);
CREATE INDEX residents_by_purge ON residents (purge_at);
