-- The sector of a client's pairwise subjects, fixed when it is registered: the host of its
-- redirect URIs, or of its verified sector_identifier_uri (OpenID Connect Core 8.1). An update
-- cannot move a client into another sector (which would give it another service's subjects).
-- NULL for clients registered before: computed from their redirect URIs as before.
ALTER TABLE clients ADD COLUMN sector TEXT;
