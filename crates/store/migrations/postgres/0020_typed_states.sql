-- States are enums in the code; the database refuses any other value as well, so that no
-- path (a query written by hand, a restore, another version of the program) can store a state
-- the program does not know. The list of each column is the one its owning module's enum has.
-- PostgreSQL: CHECK constraints.
ALTER TABLE approvals ADD CONSTRAINT approvals_status_known CHECK (status IN ('pending', 'scanned', 'approved', 'denied', 'expired', 'cancelled'));
ALTER TABLE data_consents ADD CONSTRAINT data_consents_status_known CHECK (status IN ('PENDING', 'ACTIVE', 'PAUSED', 'REVOKED', 'EXPIRED', 'DENIED'));
ALTER TABLE data_consents ADD CONSTRAINT data_consents_fetch_type_known CHECK (fetch_type IN ('once', 'recurring'));
ALTER TABLE clients ADD CONSTRAINT clients_profile_known CHECK (profile IN ('fapi2', 'basic'));
ALTER TABLE clients ADD CONSTRAINT clients_status_known CHECK (status IN ('active', 'disabled'));
ALTER TABLE sign_requests ADD CONSTRAINT sign_requests_status_known CHECK (status IN ('pending', 'signed', 'collected', 'denied', 'expired', 'failed'));
ALTER TABLE sign_requests ADD CONSTRAINT sign_requests_kind_known CHECK (kind IN ('hash', 'pdf'));
ALTER TABLE residents ADD CONSTRAINT residents_level_known CHECK (level IN ('basic', 'plus'));
ALTER TABLE residents ADD CONSTRAINT residents_status_known CHECK (status IN ('active', 'suspended', 'closed'));
ALTER TABLE devices ADD CONSTRAINT devices_status_known CHECK (status IN ('pending', 'active', 'revoked'));
ALTER TABLE user_certs ADD CONSTRAINT user_certs_status_known CHECK (status IN ('good', 'revoked'));
