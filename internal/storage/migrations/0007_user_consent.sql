-- Consent to the privacy policy (user_consent): the version of the policy
-- a user last agreed to and when, as Synapse's users.consent_version and
-- users.consent_ts. NULL: never agreed.

ALTER TABLE users ADD COLUMN consent_version TEXT;
ALTER TABLE users ADD COLUMN consent_ts BIGINT;
