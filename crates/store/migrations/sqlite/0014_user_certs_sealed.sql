-- A resident's certificate names them: it is sealed like other personal data (the platform
-- seals rows written before at start-up), and erased when the account is purged. The serial,
-- status and dates stay for the CRL and OCSP, so `cert` becomes nullable.
CREATE TABLE user_certs_new (
    serial TEXT PRIMARY KEY NOT NULL, -- hex
    resident_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    cert BLOB,                        -- DER, sealed; NULL once the account is purged
    status TEXT NOT NULL,             -- good | revoked
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    reason INTEGER,                   -- RFC 5280 CRLReason
    created_at BIGINT NOT NULL
);
INSERT INTO user_certs_new (serial, resident_id, device_id, cert, status, not_before, not_after, revoked_at, reason, created_at)
    SELECT serial, resident_id, device_id, cert, status, not_before, not_after, revoked_at, reason, created_at FROM user_certs;
DROP TABLE user_certs;
ALTER TABLE user_certs_new RENAME TO user_certs;
CREATE INDEX user_certs_by_resident ON user_certs (resident_id, status);
CREATE INDEX user_certs_revoked ON user_certs (status, not_after);
-- One good certificate per device: two enrolments at once cannot both stand.
CREATE UNIQUE INDEX user_certs_one_good_per_device ON user_certs (device_id) WHERE status = 'good';
