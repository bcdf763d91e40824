-- Foreign keys where identity's data has them: a device and an activation code belong to a
-- resident, an unlocked app's session to a device. Erasing a closed account deletes the devices
-- and codes before the resident (each owner erases its own rows), and a device's sessions go
-- with it. Rows that already point at nothing (before this migration, an erased device left its
-- sessions to expire) are removed first, so that the constraints hold from the start.
DELETE FROM app_sessions WHERE device_id NOT IN (SELECT id FROM devices);
DELETE FROM devices WHERE resident_id NOT IN (SELECT id FROM residents);
DELETE FROM activation_codes WHERE resident_id NOT IN (SELECT id FROM residents);
-- SQLite cannot add a foreign key to an existing table: triggers refuse what PostgreSQL's
-- constraints refuse (with the constraint's name in the error), and cascade as it cascades.
CREATE TRIGGER devices_resident_fk_insert BEFORE INSERT ON devices
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: devices_resident_fk'); END;
CREATE TRIGGER devices_resident_fk_update BEFORE UPDATE OF resident_id ON devices
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: devices_resident_fk'); END;
CREATE TRIGGER activation_codes_resident_fk_insert BEFORE INSERT ON activation_codes
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: activation_codes_resident_fk'); END;
CREATE TRIGGER activation_codes_resident_fk_update BEFORE UPDATE OF resident_id ON activation_codes
WHEN NOT EXISTS (SELECT 1 FROM residents WHERE id = NEW.resident_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: activation_codes_resident_fk'); END;
CREATE TRIGGER residents_referenced_delete BEFORE DELETE ON residents
WHEN EXISTS (SELECT 1 FROM devices WHERE resident_id = OLD.id)
  OR EXISTS (SELECT 1 FROM activation_codes WHERE resident_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: devices_resident_fk or activation_codes_resident_fk'); END;
CREATE TRIGGER residents_referenced_update BEFORE UPDATE OF id ON residents
WHEN EXISTS (SELECT 1 FROM devices WHERE resident_id = OLD.id)
  OR EXISTS (SELECT 1 FROM activation_codes WHERE resident_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: devices_resident_fk or activation_codes_resident_fk'); END;
CREATE TRIGGER app_sessions_device_fk_insert BEFORE INSERT ON app_sessions
WHEN NOT EXISTS (SELECT 1 FROM devices WHERE id = NEW.device_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: app_sessions_device_fk'); END;
CREATE TRIGGER app_sessions_device_fk_update BEFORE UPDATE OF device_id ON app_sessions
WHEN NOT EXISTS (SELECT 1 FROM devices WHERE id = NEW.device_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: app_sessions_device_fk'); END;
CREATE TRIGGER devices_app_sessions_cascade AFTER DELETE ON devices
BEGIN DELETE FROM app_sessions WHERE device_id = OLD.id; END;
