-- The iAM Smart-compatible API for online services. A client of profile iamsmart-api has an
-- HMAC secret (sealed: the platform must hold the secret itself to check each request's
-- signature) and the service's encipherment certificate (DER), to which content keys are
-- wrapped. Content keys issued by getKey are sealed too, and each is valid until expires_at.
CREATE TABLE osp_api_clients (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients (id),
    secret BYTEA NOT NULL,
    kek_cert BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE osp_api_content_keys (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id),
    content_key BYTEA NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX osp_api_content_keys_by_client ON osp_api_content_keys (client_id, issued_at);
CREATE INDEX osp_api_content_keys_by_expiry ON osp_api_content_keys (expires_at);
-- The new profile.
ALTER TABLE clients DROP CONSTRAINT clients_profile_known;
ALTER TABLE clients ADD CONSTRAINT clients_profile_known CHECK (profile IN ('fapi2', 'basic', 'iamsmart-api'));
