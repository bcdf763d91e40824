-- The iAM Smart-compatible API for online services. A client of profile iamsmart-api has an
-- HMAC secret (sealed: the platform must hold the secret itself to check each request's
-- signature) and the service's encipherment certificate (DER), to which content keys are
-- wrapped. Content keys issued by getKey are sealed too, and each is valid until expires_at.
CREATE TABLE osp_api_clients (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients (id),
    secret BLOB NOT NULL,
    kek_cert BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE osp_api_content_keys (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id),
    content_key BLOB NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX osp_api_content_keys_by_client ON osp_api_content_keys (client_id, issued_at);
CREATE INDEX osp_api_content_keys_by_expiry ON osp_api_content_keys (expires_at);
-- The new profile.
DROP TRIGGER clients_profile_known_insert;
DROP TRIGGER clients_profile_known_update;
CREATE TRIGGER clients_profile_known_insert BEFORE INSERT ON clients
WHEN NEW.profile NOT IN ('fapi2', 'basic', 'iamsmart-api')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_profile_known'); END;
CREATE TRIGGER clients_profile_known_update BEFORE UPDATE OF profile ON clients
WHEN NEW.profile NOT IN ('fapi2', 'basic', 'iamsmart-api')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_profile_known'); END;
