-- A retired OCSP responder or timestamp authority certificate is revoked by the issuing CA
-- (superseded at renewal, key compromise when the operator says so): the CRL and OCSP show it.
ALTER TABLE pki_certs ADD COLUMN revoked_at BIGINT;
ALTER TABLE pki_certs ADD COLUMN reason INTEGER;
