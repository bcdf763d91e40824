-- One row per resident that requests were pushed to: creating a request first writes it, which
-- serialises the requests for one resident on both engines, so that the caps on waiting
-- requests (per resident, and per service) hold when many arrive at once. Erased at closure.
CREATE TABLE approval_locks (
    resident_id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL
);
