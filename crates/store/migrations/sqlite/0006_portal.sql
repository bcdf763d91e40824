-- The single portal: the operator's edits to the catalogue of online services (laid over the
-- bundled catalogue, in order), and residents' favourite services. Times are Unix milliseconds.

CREATE TABLE catalogue_edits (
    seq BIGINT PRIMARY KEY NOT NULL, -- order of the edits (assigned by the platform)
    service_id TEXT NOT NULL,
    service TEXT,                     -- the whole service as JSON; NULL: the service was removed
    edited_by TEXT NOT NULL,
    edited_at BIGINT NOT NULL
);
CREATE INDEX catalogue_edits_by_service ON catalogue_edits (service_id, seq);

CREATE TABLE favourite_services (
    resident_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (resident_id, service_id)
);
