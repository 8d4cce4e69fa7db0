-- Ownership verification: each asset gets a token its owner publishes (a file under
-- /.well-known/, a meta tag, or a DNS TXT record); verified_at says when that was last proven.
ALTER TABLE assets
    ADD COLUMN verification_token text NOT NULL
        DEFAULT replace(gen_random_uuid()::text, '-', ''),
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN verification_method text
        CHECK (verification_method IN ('http_file', 'meta_tag', 'dns_txt')),
    ADD COLUMN verification_checked_at timestamptz;
-- Subdomains and URLs inherit a verified domain: the organization's verified domains are read
-- at every scan start.
CREATE INDEX assets_verified_domains_idx ON assets (org_id)
    WHERE kind = 'domain' AND verified_at IS NOT NULL;
