-- The resident's web app. A device may be bound with user verification that the platform
-- checks (a passkey with user verification, or a PIN with a limit on wrong attempts): such a
-- device approves and signs only with a fresh proof, and makes its other calls within a short
-- session opened by one (the app "unlocks"). Devices of iamsmart-app (key sealed under a PIN on
-- the device) have none. Times are Unix milliseconds.

ALTER TABLE devices ADD COLUMN uv_method TEXT;                         -- NULL | passkey | pin
ALTER TABLE devices ADD COLUMN uv_credential TEXT;                     -- passkey: JSON {id, public_jwk}
ALTER TABLE devices ADD COLUMN uv_sign_count BIGINT NOT NULL DEFAULT 0; -- passkey: last counter seen
ALTER TABLE devices ADD COLUMN pin_verifier BYTEA;                     -- pin: keyed hash of device key and PIN
ALTER TABLE devices ADD COLUMN uv_failures BIGINT NOT NULL DEFAULT 0;   -- wrong PINs in a row

CREATE TABLE app_sessions (
    token_hash BYTEA PRIMARY KEY NOT NULL,  -- SHA-256 of the session token the app keeps in memory
    device_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,            -- when the proof was given (fresh actions need a recent one)
    idle_until BIGINT NOT NULL,            -- moves on with use
    expires_at BIGINT NOT NULL             -- never moves
);
CREATE INDEX app_sessions_by_device ON app_sessions (device_id);
CREATE INDEX app_sessions_expiry ON app_sessions (expires_at);

-- A code issued by one of the resident's own devices to add another keeps the devices bound;
-- a code from a counter or kiosk replaces them (a lost phone).
ALTER TABLE activation_codes ADD COLUMN keeps_devices BIGINT NOT NULL DEFAULT 0;
