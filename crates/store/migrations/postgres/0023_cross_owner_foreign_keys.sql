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
-- PostgreSQL: the constraints themselves.
ALTER TABLE grants ADD CONSTRAINT grants_client_fk FOREIGN KEY (client_id) REFERENCES clients (id);
ALTER TABLE data_consents ADD CONSTRAINT data_consents_resident_fk FOREIGN KEY (resident_id) REFERENCES residents (id);
ALTER TABLE resident_passkeys ADD CONSTRAINT resident_passkeys_resident_fk FOREIGN KEY (resident_id) REFERENCES residents (id);
