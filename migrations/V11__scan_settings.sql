-- Scan profiles and per-organization scan settings: the default profile, the checks an
-- organization never runs, and the ports its port scans try. A job carries the ports chosen
-- when its run was created, so the worker reads them from the job row like everything else.

CREATE TABLE scan_settings (
    org_id           uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    default_profile  text NOT NULL DEFAULT 'full' CHECK (default_profile IN ('full', 'light')),
    disabled_checks  text[] NOT NULL DEFAULT '{}',
    -- {"mode": "common"}, {"mode": "full"} or {"mode": "list", "ports": [...]}
    port_scan        jsonb NOT NULL DEFAULT '{"mode": "common"}',
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Only port-scan jobs have ports; absent: the common ports.
ALTER TABLE scan_jobs ADD COLUMN ports jsonb;
