-- Rate-limit tiers per organization: how many requests its keys and sessions may make.
ALTER TABLE organizations
    ADD COLUMN rate_tier text NOT NULL DEFAULT 'standard'
        CHECK (rate_tier IN ('standard', 'professional', 'enterprise'));
