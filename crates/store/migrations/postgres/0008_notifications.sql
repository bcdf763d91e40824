-- Personalised notifications: services send them to residents who use the service and agreed to
-- be notified by it; the resident reads them in the account pages and the app. Title, body and
-- link are personal data: sealed in `content` (never in clear). A send the platform did not
-- deliver keeps no content and no resident, only what idempotency and the rate limit need.
-- Times are Unix milliseconds.

CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash BYTEA NOT NULL,       -- SHA-256 of the request, to spot a key reused for another one
    subject_hash BYTEA NOT NULL,       -- keyed hash of (client, sub): the rate limit per resident
    resident_id TEXT,                 -- NULL when not delivered
    status TEXT NOT NULL,             -- delivered | not_delivered
    content BYTEA,                     -- sealed JSON: titles, bodies, link, category; NULL when not delivered
    read_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX notifications_idempotency ON notifications (client_id, idempotency_key);
CREATE INDEX notifications_inbox ON notifications (resident_id, created_at);
CREATE INDEX notifications_rate ON notifications (client_id, subject_hash, created_at);
CREATE INDEX notifications_expiry ON notifications (expires_at);

CREATE TABLE notify_prefs (           -- a resident's choice per service (no row: not agreed)
    resident_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    enabled BIGINT NOT NULL,          -- 1 | 0
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (resident_id, client_id)
);
