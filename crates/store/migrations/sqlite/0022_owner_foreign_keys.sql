-- Foreign keys where one owner's data has them, each going with what it belongs to: a refresh
-- token with its grant (oidc), a fetch slot with its data consent and an item with its provider
-- (exchange), a staff member's passkeys with the staff member (identity). Rows that already
-- point at nothing are removed first, so that the constraints hold from the start.
DELETE FROM refresh_tokens WHERE grant_id NOT IN (SELECT id FROM grants);
DELETE FROM consent_fetch_slots WHERE consent_id NOT IN (SELECT id FROM data_consents);
DELETE FROM staff_passkeys WHERE staff_id NOT IN (SELECT id FROM staff);
DELETE FROM data_items WHERE provider_id NOT IN (SELECT id FROM data_providers);
-- SQLite cannot add a foreign key to an existing table: triggers refuse what PostgreSQL's
-- constraints refuse (with the constraint's name in the error), and cascade as it cascades.
CREATE TRIGGER refresh_tokens_grant_fk_insert BEFORE INSERT ON refresh_tokens
WHEN NOT EXISTS (SELECT 1 FROM grants WHERE id = NEW.grant_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: refresh_tokens_grant_fk'); END;
CREATE TRIGGER refresh_tokens_grant_fk_update BEFORE UPDATE OF grant_id ON refresh_tokens
WHEN NOT EXISTS (SELECT 1 FROM grants WHERE id = NEW.grant_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: refresh_tokens_grant_fk'); END;
CREATE TRIGGER refresh_tokens_grant_fk_parent_update BEFORE UPDATE OF id ON grants
WHEN EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: refresh_tokens_grant_fk'); END;
CREATE TRIGGER refresh_tokens_grant_fk_cascade AFTER DELETE ON grants
BEGIN DELETE FROM refresh_tokens WHERE grant_id = OLD.id; END;
CREATE TRIGGER consent_fetch_slots_consent_fk_insert BEFORE INSERT ON consent_fetch_slots
WHEN NOT EXISTS (SELECT 1 FROM data_consents WHERE id = NEW.consent_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: consent_fetch_slots_consent_fk'); END;
CREATE TRIGGER consent_fetch_slots_consent_fk_update BEFORE UPDATE OF consent_id ON consent_fetch_slots
WHEN NOT EXISTS (SELECT 1 FROM data_consents WHERE id = NEW.consent_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: consent_fetch_slots_consent_fk'); END;
CREATE TRIGGER consent_fetch_slots_consent_fk_parent_update BEFORE UPDATE OF id ON data_consents
WHEN EXISTS (SELECT 1 FROM consent_fetch_slots WHERE consent_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: consent_fetch_slots_consent_fk'); END;
CREATE TRIGGER consent_fetch_slots_consent_fk_cascade AFTER DELETE ON data_consents
BEGIN DELETE FROM consent_fetch_slots WHERE consent_id = OLD.id; END;
CREATE TRIGGER staff_passkeys_staff_fk_insert BEFORE INSERT ON staff_passkeys
WHEN NOT EXISTS (SELECT 1 FROM staff WHERE id = NEW.staff_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: staff_passkeys_staff_fk'); END;
CREATE TRIGGER staff_passkeys_staff_fk_update BEFORE UPDATE OF staff_id ON staff_passkeys
WHEN NOT EXISTS (SELECT 1 FROM staff WHERE id = NEW.staff_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: staff_passkeys_staff_fk'); END;
CREATE TRIGGER staff_passkeys_staff_fk_parent_update BEFORE UPDATE OF id ON staff
WHEN EXISTS (SELECT 1 FROM staff_passkeys WHERE staff_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: staff_passkeys_staff_fk'); END;
CREATE TRIGGER staff_passkeys_staff_fk_cascade AFTER DELETE ON staff
BEGIN DELETE FROM staff_passkeys WHERE staff_id = OLD.id; END;
CREATE TRIGGER data_items_provider_fk_insert BEFORE INSERT ON data_items
WHEN NOT EXISTS (SELECT 1 FROM data_providers WHERE id = NEW.provider_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_items_provider_fk'); END;
CREATE TRIGGER data_items_provider_fk_update BEFORE UPDATE OF provider_id ON data_items
WHEN NOT EXISTS (SELECT 1 FROM data_providers WHERE id = NEW.provider_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_items_provider_fk'); END;
CREATE TRIGGER data_items_provider_fk_parent_update BEFORE UPDATE OF id ON data_providers
WHEN EXISTS (SELECT 1 FROM data_items WHERE provider_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_items_provider_fk'); END;
CREATE TRIGGER data_items_provider_fk_cascade AFTER DELETE ON data_providers
BEGIN DELETE FROM data_items WHERE provider_id = OLD.id; END;
