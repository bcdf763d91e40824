-- Foreign keys across owners, where one capability's rows name another's: a grant names the
-- client it was given to (oidc's grants, oidc's clients, which are disabled, never deleted), a
-- data consent names its resident (exchange, identity), and a passkey names its resident (oidc,
-- identity). None cascades: erasing a closed account deletes each owner's rows first, through
-- that owner's `erase_at_purge`, and the resident last (`identity::rights::purge_closed`), so a
-- resident row cannot go while another capability still holds rows for it. Rows that already
-- point at nothing are removed first, so that the constraints hold from the start.
DELETE FROM grants WHERE client_id NOT IN (SELECT id FROM clients);
DELETE FROM data_consents WHERE resident_id NOT IN (SELECT id FROM residents);
DELETE FROM resident_passkeys WHERE resident_id NOT IN (SELECT id FROM residents);
-- SQLite cannot add a foreign key to an existing table: triggers refuse what PostgreSQL's
-- constraints refuse, with the constraint's name in the error.
CREATE TRIGGER grants_client_fk_insert BEFORE INSERT ON grants
WHEN NOT EXISTS (SELECT 1 FROM clients WHERE id = NEW.client_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: grants_client_fk'); END;
CREATE TRIGGER grants_client_fk_update BEFORE UPDATE OF client_id ON grants
WHEN NOT EXISTS (SELECT 1 FROM clients WHERE id = NEW.client_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: grants_client_fk'); END;
CREATE TRIGGER grants_client_fk_parent BEFORE DELETE ON clients
WHEN EXISTS (SELECT 1 FROM grants WHERE client_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: grants_client_fk'); END;
CREATE TRIGGER grants_client_fk_parent_update BEFORE UPDATE OF id ON clients
WHEN EXISTS (SELECT 1 FROM grants WHERE client_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: grants_client_fk'); END;
CREATE TRIGGER data_consents_resident_fk_insert BEFORE INSERT ON data_consents
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_consents_resident_fk'); END;
CREATE TRIGGER data_consents_resident_fk_update BEFORE UPDATE OF resident_id ON data_consents
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_consents_resident_fk'); END;
CREATE TRIGGER resident_passkeys_resident_fk_insert BEFORE INSERT ON resident_passkeys
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: resident_passkeys_resident_fk'); END;
CREATE TRIGGER resident_passkeys_resident_fk_update BEFORE UPDATE OF resident_id ON resident_passkeys
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: resident_passkeys_resident_fk'); END;
CREATE TRIGGER residents_held_by_other_owners_delete BEFORE DELETE ON residents
WHEN EXISTS (SELECT 1 FROM data_consents WHERE resident_id = OLD.id)
  OR EXISTS (SELECT 1 FROM resident_passkeys WHERE resident_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_consents_resident_fk or resident_passkeys_resident_fk'); END;
CREATE TRIGGER residents_held_by_other_owners_update BEFORE UPDATE OF id ON residents
WHEN EXISTS (SELECT 1 FROM data_consents WHERE resident_id = OLD.id)
  OR EXISTS (SELECT 1 FROM resident_passkeys WHERE resident_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: data_consents_resident_fk or resident_passkeys_resident_fk'); END;
