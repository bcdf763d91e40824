-- Only the app home that was protected for a device may ask for the platform's part in unsealing
-- it: the home keeps a random token, the platform its SHA-256. Without the home, nobody can spend
-- (and so exhaust) the device's tries and lock it.
ALTER TABLE devices ADD COLUMN unseal_token_hash BLOB;
