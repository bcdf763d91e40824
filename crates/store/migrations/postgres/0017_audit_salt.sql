-- Each entry's leaf commits to the entry with a secret per-entry salt, so that the public log
-- (leaf hashes only) reveals nothing about who did what; the resident receives the salts of
-- their own entries to check them. NULL for entries appended before: their leaf is the hash of
-- the entry alone.
ALTER TABLE audit_log ADD COLUMN salt BYTEA;
