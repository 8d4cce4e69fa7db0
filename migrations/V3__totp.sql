-- A second factor per user: the TOTP secret, sealed by the gateway (AES-256-GCM), active once
-- the user proved their authenticator with a code; pending until then.
ALTER TABLE users
    ADD COLUMN totp_secret text,
    ADD COLUMN totp_pending_secret text,
    ADD COLUMN totp_enabled_at timestamptz;
