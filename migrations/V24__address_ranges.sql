-- Address ranges (CIDR) as assets, proven by a TXT record at their reverse zone or by the
-- operator's word; each organization may register ranges of at most max_cidr_hosts hosts
-- (the operator raises it per organization).
ALTER TABLE assets DROP CONSTRAINT assets_kind_check;
ALTER TABLE assets ADD CONSTRAINT assets_kind_check
    CHECK (kind IN ('url', 'domain', 'ip', 'cidr'));
ALTER TABLE assets DROP CONSTRAINT assets_verification_method_check;
ALTER TABLE assets ADD CONSTRAINT assets_verification_method_check
    CHECK (verification_method IN ('http_file', 'meta_tag', 'dns_txt', 'operator'));
ALTER TABLE organizations
    ADD COLUMN max_cidr_hosts bigint NOT NULL DEFAULT 256 CHECK (max_cidr_hosts >= 1);

-- A range's port scans see services on many hosts of one asset: the host is part of what a
-- service is ('' for every other asset, whose scans have one host).
ALTER TABLE asset_services ADD COLUMN host text NOT NULL DEFAULT '';
ALTER TABLE asset_services DROP CONSTRAINT asset_services_asset_id_port_transport_key;
ALTER TABLE asset_services ADD CONSTRAINT asset_services_asset_host_port_key
    UNIQUE (asset_id, host, port, transport);
