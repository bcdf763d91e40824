-- A resident's certificate names them: it is sealed like other personal data (the platform
-- seals rows written before at start-up), and erased when the account is purged. The serial,
-- status and dates stay for the CRL and OCSP, so `cert` becomes nullable.
ALTER TABLE user_certs ALTER COLUMN cert DROP NOT NULL;
