-- OpenID Connect provider: clients, pushed and pending authorization requests, browser sessions,
-- grants with their codes and refresh tokens, consents, pairwise subjects, CIBA requests.
-- Times are Unix milliseconds; secrets are stored as SHA-256 hashes only.

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    profile TEXT NOT NULL,            -- fapi2 | basic
    metadata TEXT NOT NULL,           -- registered metadata (JSON), as served by the management API
    secret_hash BYTEA,                  -- client_secret_basic clients only
    registration_token_hash BYTEA,      -- RFC 7592 registration access token
    status TEXT NOT NULL,             -- active | disabled
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE initial_access_tokens (  -- for dynamic client registration (RFC 7591)
    token_hash BYTEA PRIMARY KEY NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    uses_left BIGINT NOT NULL
);

CREATE TABLE authz_requests (         -- pushed (PAR) and in-progress authorization requests
    id TEXT PRIMARY KEY NOT NULL,     -- request_uri suffix or transaction id
    kind TEXT NOT NULL,               -- par | tx
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,             -- validated parameters (JSON)
    browser_hash BYTEA,                 -- tx: hash of the cookie that binds it to one browser
    approval_id TEXT,                 -- tx: the request shown in the app
    sid TEXT,                         -- tx: the browser session once the resident is signed in
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX authz_requests_by_expiry ON authz_requests (expires_at);

CREATE TABLE op_sessions (            -- browser sessions at the provider (single sign-on)
    id_hash BYTEA PRIMARY KEY NOT NULL,
    sid TEXT NOT NULL,                -- public session id (ID tokens, logout)
    resident_id TEXT NOT NULL,
    device_id TEXT,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,                -- JSON array
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,     -- idle timeout
    expires_at BIGINT NOT NULL,       -- absolute timeout
    revoked_at BIGINT
);
CREATE UNIQUE INDEX op_sessions_by_sid ON op_sessions (sid);
CREATE INDEX op_sessions_by_resident ON op_sessions (resident_id);

CREATE TABLE grants (                 -- what one authorization gave one client; tokens hang off it
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    device_id TEXT,
    sid TEXT,
    scope TEXT NOT NULL,
    claims TEXT NOT NULL,             -- JSON array of the fields released
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    nonce TEXT,
    dpop_jkt TEXT,
    authorization_details TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,       -- absolute lifetime of the refresh token family
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX grants_by_resident ON grants (resident_id);
CREATE INDEX grants_by_sid ON grants (sid);

CREATE TABLE codes (
    code_hash BYTEA PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    dpop_jkt TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX codes_by_expiry ON codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

CREATE TABLE consents (
    resident_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    field TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (resident_id, client_id, field)
);

CREATE TABLE subjects (               -- pairwise subject identifiers, for reverse lookup (CIBA hints)
    sector TEXT NOT NULL,
    sub TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    PRIMARY KEY (sector, sub)
);

CREATE TABLE ciba_requests (
    id TEXT PRIMARY KEY NOT NULL,     -- auth_req_id
    client_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    params TEXT NOT NULL,             -- scope, acr, claims, binding message (JSON)
    notification_token TEXT,          -- ping mode
    interval_ms BIGINT NOT NULL,
    last_poll_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT
);

-- What the resident agreed to in the app, and when a face match was checked for the request.
ALTER TABLE approvals ADD COLUMN agreed TEXT;
ALTER TABLE approvals ADD COLUMN face_verified_at BIGINT;

CREATE TABLE resident_passkeys (      -- passkeys residents add in their account pages
    credential_id TEXT PRIMARY KEY NOT NULL,
    resident_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,         -- public key as JWK
    sign_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    flagged_at BIGINT                 -- a counter went backwards: possible clone
);
CREATE INDEX resident_passkeys_by_resident ON resident_passkeys (resident_id);
