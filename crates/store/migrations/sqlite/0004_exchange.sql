-- e-ME form filling and the Consented Data Exchange Gateway: data providers and their items,
-- consent artefacts, e-ME requests, and the metadata-only message log of exchanges. No payload
-- (personal data from a provider or a profile) is ever stored here. Times are Unix milliseconds.

CREATE TABLE data_providers (
    id TEXT PRIMARY KEY NOT NULL,
    name_en TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    base_url TEXT NOT NULL,           -- e.g. http://127.0.0.1:8092/ird
    status TEXT NOT NULL,             -- active | disabled
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE data_items (
    provider_id TEXT NOT NULL,
    item TEXT NOT NULL,
    title_en TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    description_en TEXT NOT NULL,
    description_zh TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    requesters TEXT NOT NULL,         -- JSON array: government | bank | commercial
    schema TEXT NOT NULL,             -- JSON Schema of the item
    PRIMARY KEY (provider_id, item)
);

CREATE TABLE data_consents (
    id TEXT PRIMARY KEY NOT NULL,
    resident_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    items TEXT NOT NULL,              -- JSON array of {provider, item}
    purpose_code TEXT NOT NULL,
    purpose_text TEXT NOT NULL,
    fetch_type TEXT NOT NULL,         -- once | recurring
    frequency_per_day BIGINT,         -- recurring only
    valid_days BIGINT NOT NULL,
    data_life_days BIGINT NOT NULL,   -- how long the requester may keep the data
    status TEXT NOT NULL,             -- PENDING | ACTIVE | PAUSED | REVOKED | EXPIRED | DENIED
    status_reason TEXT,
    starts_at BIGINT,
    expires_at BIGINT,
    artefact TEXT,                    -- the signed consent artefact (JWS), once active
    artefact_hash BLOB,
    fetches BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    purge_at BIGINT                   -- the record is erased from this time
);
CREATE INDEX data_consents_by_resident ON data_consents (resident_id);
CREATE INDEX data_consents_by_client ON data_consents (client_id);
CREATE INDEX data_consents_by_purge ON data_consents (purge_at);

CREATE TABLE eme_requests (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    params TEXT NOT NULL,             -- form, fields, optional fields, purpose (JSON)
    status TEXT NOT NULL,             -- pending | delivered | denied | expired
    resident_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    delivered_at BIGINT
);

CREATE TABLE exchange_log (           -- metadata only: never a payload
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,               -- fetch | eme
    consent_id TEXT,
    client_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    provider_id TEXT,
    items TEXT NOT NULL,              -- JSON array of item names
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,            -- ok | none | refused | provider_error
    detail TEXT,
    bytes BIGINT NOT NULL,
    payload_hash BLOB,                 -- SHA-256 of what was relayed (encrypted)
    duration_ms BIGINT NOT NULL
);
CREATE INDEX exchange_log_by_resident ON exchange_log (resident_id, at);
CREATE INDEX exchange_log_by_consent ON exchange_log (consent_id, at);
