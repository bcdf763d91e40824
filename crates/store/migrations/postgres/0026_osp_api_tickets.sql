-- Requests of the compatible API whose result goes to the service's callback (profile, e-ME and
-- signing after a sign-in, and face step-up): the ticket the service was given (the id of the
-- e-ME or signing request behind it, or the step-up's approval), its approval, what the
-- callback repeats (echo: JSON of values the service sent, such as hashCode, and its openID),
-- and the callback's delivery. The callback's body (encrypted to the service, and sealed here)
-- is kept only until it is delivered or given up; what remains is its code and dates.
-- A client of the compatible API registers the one URL its callbacks go to.
ALTER TABLE osp_api_clients ADD COLUMN callback_uri TEXT;
CREATE TABLE osp_api_tickets (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id),
    approval_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('profile', 'eme', 'sign', 'stepup')),
    status TEXT NOT NULL CHECK (status IN ('waiting', 'queued', 'delivered', 'failed')),
    business_id TEXT,
    state TEXT,
    echo TEXT,
    callback_uri TEXT NOT NULL,
    body BYTEA,
    code TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX osp_api_tickets_due ON osp_api_tickets (status, next_attempt_at);
CREATE INDEX osp_api_tickets_by_approval ON osp_api_tickets (approval_id);
