-- Identity: devices, single-use values, failure limits, activation codes, staff, sessions,
-- WebAuthn ceremonies, approval requests. Times are Unix milliseconds.

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    resident_id TEXT NOT NULL,
    thumbprint TEXT NOT NULL,        -- RFC 7638 thumbprint of the device key
    public_jwk TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,            -- active | revoked
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE UNIQUE INDEX devices_by_thumbprint ON devices (thumbprint);
CREATE INDEX devices_by_resident ON devices (resident_id, status);

CREATE TABLE nonces (                -- values that may be used once (request ids, jti)
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, value)
);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

CREATE TABLE challenges (            -- server-issued single-use challenges
    id TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);

CREATE TABLE attempts (              -- failure counters; keys are pseudonymous (hashes)
    key TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT
);

CREATE TABLE activation_codes (
    code_hash BYTEA PRIMARY KEY NOT NULL,
    resident_id TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX activation_codes_by_resident ON activation_codes (resident_id);

CREATE TABLE staff (
    id TEXT PRIMARY KEY NOT NULL,
    display_name BYTEA NOT NULL,       -- sealed
    role TEXT NOT NULL,              -- officer | supervisor
    status TEXT NOT NULL,            -- pending | active | disabled
    enrolment_hash BYTEA,              -- SHA-256 of the one-time enrolment code
    enrolment_expires_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE staff_passkeys (
    credential_id TEXT PRIMARY KEY NOT NULL,
    staff_id TEXT NOT NULL,
    public_key TEXT NOT NULL,        -- COSE key as JSON
    sign_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX staff_passkeys_by_staff ON staff_passkeys (staff_id);

CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY NOT NULL,  -- SHA-256 of the session secret
    kind TEXT NOT NULL,              -- staff | resident
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_subject ON sessions (subject);

CREATE TABLE ceremonies (            -- WebAuthn state between start and finish
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE approvals (             -- requests waiting for the resident in the app
    id TEXT PRIMARY KEY NOT NULL,
    resident_id TEXT,                -- NULL until a device scans the QR code
    kind TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    details TEXT NOT NULL,           -- what is asked; names of items, never their values
    challenge TEXT NOT NULL,
    match_code TEXT NOT NULL,
    status TEXT NOT NULL,            -- pending | scanned | approved | denied | expired | cancelled
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    device_id TEXT,
    evidence TEXT                    -- the decision as signed by the device
);
CREATE INDEX approvals_by_resident ON approvals (resident_id, status);
