-- Foreign keys where identity's data has them: a device and an activation code belong to a
-- resident, an unlocked app's session to a device. Erasing a closed account deletes the devices
-- and codes before the resident (each owner erases its own rows), and a device's sessions go
-- with it. Rows that already point at nothing (before this migration, an erased device left its
-- sessions to expire) are removed first, so that the constraints hold from the start.
DELETE FROM app_sessions WHERE device_id NOT IN (SELECT id FROM devices);
DELETE FROM devices WHERE resident_id NOT IN (SELECT id FROM residents);
DELETE FROM activation_codes WHERE resident_id NOT IN (SELECT id FROM residents);
-- PostgreSQL: the constraints themselves.
ALTER TABLE devices ADD CONSTRAINT devices_resident_fk FOREIGN KEY (resident_id) REFERENCES residents (id);
ALTER TABLE activation_codes ADD CONSTRAINT activation_codes_resident_fk FOREIGN KEY (resident_id) REFERENCES residents (id);
ALTER TABLE app_sessions ADD CONSTRAINT app_sessions_device_fk FOREIGN KEY (device_id) REFERENCES devices (id) ON DELETE CASCADE;
