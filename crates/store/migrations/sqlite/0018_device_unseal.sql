-- The platform takes part in unsealing the command-line app's keys (RFC 9497 OPRF): a key per
-- device (sealed like personal data), and the evaluations asked for since the app last proved it
-- unsealed (the sixth in a row locks the device).
ALTER TABLE devices ADD COLUMN oprf_key BLOB;
ALTER TABLE devices ADD COLUMN unseal_attempts BIGINT NOT NULL DEFAULT 0;
