-- Foreign keys where one owner's data has them, each going with what it belongs to: a refresh
-- token with its grant (oidc), a fetch slot with its data consent and an item with its provider
-- (exchange), a staff member's passkeys with the staff member (identity). Rows that already
-- point at nothing are removed first, so that the constraints hold from the start.
DELETE FROM refresh_tokens WHERE grant_id NOT IN (SELECT id FROM grants);
DELETE FROM consent_fetch_slots WHERE consent_id NOT IN (SELECT id FROM data_consents);
DELETE FROM staff_passkeys WHERE staff_id NOT IN (SELECT id FROM staff);
DELETE FROM data_items WHERE provider_id NOT IN (SELECT id FROM data_providers);
-- PostgreSQL: the constraints themselves.
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_grant_fk FOREIGN KEY (grant_id) REFERENCES grants (id) ON DELETE CASCADE;
ALTER TABLE consent_fetch_slots ADD CONSTRAINT consent_fetch_slots_consent_fk FOREIGN KEY (consent_id) REFERENCES data_consents (id) ON DELETE CASCADE;
ALTER TABLE staff_passkeys ADD CONSTRAINT staff_passkeys_staff_fk FOREIGN KEY (staff_id) REFERENCES staff (id) ON DELETE CASCADE;
ALTER TABLE data_items ADD CONSTRAINT data_items_provider_fk FOREIGN KEY (provider_id) REFERENCES data_providers (id) ON DELETE CASCADE;
