-- A resident's signatures, listed on the account pages.
CREATE INDEX sign_requests_by_resident ON sign_requests (resident_id, signed_at);
