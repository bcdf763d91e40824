-- Digital signing: the platform's certificate authority (root, issuing CA, OCSP responder,
-- timestamp authority), residents' signing certificates, and signing requests. Documents are
-- kept (sealed) only while a PDF request waits for the resident and until the service has
-- collected the result. Times are Unix milliseconds.

CREATE TABLE pki_certs (
    role TEXT NOT NULL,               -- root | issuing | ocsp | tsa
    serial TEXT NOT NULL,             -- hex
    kid TEXT,                         -- the key in the key store (NULL: the root's key is offline)
    cert BLOB NOT NULL,               -- DER
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (role, serial)
);

CREATE TABLE user_certs (
    serial TEXT PRIMARY KEY NOT NULL, -- hex
    resident_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    cert BLOB NOT NULL,               -- DER
    status TEXT NOT NULL,             -- good | revoked
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    reason INTEGER,                   -- RFC 5280 CRLReason
    created_at BIGINT NOT NULL
);
CREATE INDEX user_certs_by_resident ON user_certs (resident_id, status);
CREATE INDEX user_certs_revoked ON user_certs (status, not_after);
-- One good certificate per device: two enrolments at once cannot both stand.
CREATE UNIQUE INDEX user_certs_one_good_per_device ON user_certs (device_id) WHERE status = 'good';

CREATE TABLE sign_requests (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    resident_id TEXT,                 -- set when named, or when the resident answers
    kind TEXT NOT NULL,               -- hash | pdf
    digest BLOB NOT NULL,             -- SHA-256 of the document (PDF: of its signed byte range)
    details TEXT NOT NULL,            -- JSON: document name, department, service, face
    document BLOB,                    -- PDF requests: the prepared PDF, sealed; cleared once collected
    status TEXT NOT NULL,             -- pending | signed | collected | denied | expired | failed
    reason TEXT,                      -- why failed or denied
    cert_serial TEXT,
    result BLOB,                      -- CMS or signed PDF, sealed; cleared once collected
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    signed_at BIGINT,
    collected_at BIGINT
);
CREATE INDEX sign_requests_by_approval ON sign_requests (approval_id);
CREATE INDEX sign_requests_by_client ON sign_requests (client_id, created_at);
