-- The gateway's fetches claim a slot before the provider is called, so that a consent's limits
-- hold however many fetches arrive at once: "once" has one slot for ever; "recurring" has
-- frequency_per_day slots per day counted from the consent's start. The primary key makes a
-- claim atomic on both engines; a fetch that got nothing gives its slot back. No personal data.
CREATE TABLE consent_fetch_slots (
    consent_id TEXT NOT NULL,
    slot BIGINT NOT NULL,            -- day number * 1000 + n (n < frequency_per_day); 0 for once
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (consent_id, slot)
);
