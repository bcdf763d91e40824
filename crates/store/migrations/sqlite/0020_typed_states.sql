-- States are enums in the code; the database refuses any other value as well, so that no
-- path (a query written by hand, a restore, another version of the program) can store a state
-- the program does not know. The list of each column is the one its owning module's enum has.
-- SQLite cannot add a CHECK constraint to an existing table: a trigger per column refuses
-- the same values on insert and update, with the constraint's name in the error.
CREATE TRIGGER approvals_status_known_insert BEFORE INSERT ON approvals
WHEN NEW.status NOT IN ('pending', 'scanned', 'approved', 'denied', 'expired', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: approvals_status_known'); END;
CREATE TRIGGER approvals_status_known_update BEFORE UPDATE OF status ON approvals
WHEN NEW.status NOT IN ('pending', 'scanned', 'approved', 'denied', 'expired', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: approvals_status_known'); END;
CREATE TRIGGER data_consents_status_known_insert BEFORE INSERT ON data_consents
WHEN NEW.status NOT IN ('PENDING', 'ACTIVE', 'PAUSED', 'REVOKED', 'EXPIRED', 'DENIED')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: data_consents_status_known'); END;
CREATE TRIGGER data_consents_status_known_update BEFORE UPDATE OF status ON data_consents
WHEN NEW.status NOT IN ('PENDING', 'ACTIVE', 'PAUSED', 'REVOKED', 'EXPIRED', 'DENIED')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: data_consents_status_known'); END;
CREATE TRIGGER data_consents_fetch_type_known_insert BEFORE INSERT ON data_consents
WHEN NEW.fetch_type NOT IN ('once', 'recurring')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: data_consents_fetch_type_known'); END;
CREATE TRIGGER data_consents_fetch_type_known_update BEFORE UPDATE OF fetch_type ON data_consents
WHEN NEW.fetch_type NOT IN ('once', 'recurring')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: data_consents_fetch_type_known'); END;
CREATE TRIGGER clients_profile_known_insert BEFORE INSERT ON clients
WHEN NEW.profile NOT IN ('fapi2', 'basic')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_profile_known'); END;
CREATE TRIGGER clients_profile_known_update BEFORE UPDATE OF profile ON clients
WHEN NEW.profile NOT IN ('fapi2', 'basic')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_profile_known'); END;
CREATE TRIGGER clients_status_known_insert BEFORE INSERT ON clients
WHEN NEW.status NOT IN ('active', 'disabled')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_status_known'); END;
CREATE TRIGGER clients_status_known_update BEFORE UPDATE OF status ON clients
WHEN NEW.status NOT IN ('active', 'disabled')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: clients_status_known'); END;
CREATE TRIGGER sign_requests_status_known_insert BEFORE INSERT ON sign_requests
WHEN NEW.status NOT IN ('pending', 'signed', 'collected', 'denied', 'expired', 'failed')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: sign_requests_status_known'); END;
CREATE TRIGGER sign_requests_status_known_update BEFORE UPDATE OF status ON sign_requests
WHEN NEW.status NOT IN ('pending', 'signed', 'collected', 'denied', 'expired', 'failed')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: sign_requests_status_known'); END;
CREATE TRIGGER sign_requests_kind_known_insert BEFORE INSERT ON sign_requests
WHEN NEW.kind NOT IN ('hash', 'pdf')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: sign_requests_kind_known'); END;
CREATE TRIGGER sign_requests_kind_known_update BEFORE UPDATE OF kind ON sign_requests
WHEN NEW.kind NOT IN ('hash', 'pdf')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: sign_requests_kind_known'); END;
CREATE TRIGGER residents_level_known_insert BEFORE INSERT ON residents
WHEN NEW.level NOT IN ('basic', 'plus')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: residents_level_known'); END;
CREATE TRIGGER residents_level_known_update BEFORE UPDATE OF level ON residents
WHEN NEW.level NOT IN ('basic', 'plus')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: residents_level_known'); END;
CREATE TRIGGER residents_status_known_insert BEFORE INSERT ON residents
WHEN NEW.status NOT IN ('active', 'suspended', 'closed')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: residents_status_known'); END;
CREATE TRIGGER residents_status_known_update BEFORE UPDATE OF status ON residents
WHEN NEW.status NOT IN ('active', 'suspended', 'closed')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: residents_status_known'); END;
CREATE TRIGGER devices_status_known_insert BEFORE INSERT ON devices
WHEN NEW.status NOT IN ('pending', 'active', 'revoked')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: devices_status_known'); END;
CREATE TRIGGER devices_status_known_update BEFORE UPDATE OF status ON devices
WHEN NEW.status NOT IN ('pending', 'active', 'revoked')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: devices_status_known'); END;
CREATE TRIGGER user_certs_status_known_insert BEFORE INSERT ON user_certs
WHEN NEW.status NOT IN ('good', 'revoked')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: user_certs_status_known'); END;
CREATE TRIGGER user_certs_status_known_update BEFORE UPDATE OF status ON user_certs
WHEN NEW.status NOT IN ('good', 'revoked')
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: user_certs_status_known'); END;
