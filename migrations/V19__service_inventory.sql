-- The service inventory: what the port scans saw listening on each asset. A row per asset,
-- port and transport; a scan that sees it again moves last_seen, one that scans its port and
-- finds it closed sets gone_at (cleared when it comes back).
CREATE TABLE asset_services (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id     uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    port         integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport    text NOT NULL DEFAULT 'tcp',
    service      text,
    product      text,
    version      text,
    tls          boolean NOT NULL DEFAULT false,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    gone_at      timestamptz,
    last_run_id  uuid NOT NULL,
    UNIQUE (asset_id, port, transport)
);
CREATE INDEX asset_services_org_idx ON asset_services (org_id, id);
CREATE INDEX asset_services_port_idx ON asset_services (org_id, port);
