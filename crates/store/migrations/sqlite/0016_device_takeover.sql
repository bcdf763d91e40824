-- A phone that self-registered with an HKID whose account is on another phone waits (status
-- 'pending') until activates_at, during which the resident's current phones can refuse it.
ALTER TABLE devices ADD COLUMN activates_at BIGINT;
