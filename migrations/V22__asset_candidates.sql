-- Discovery: host names found around an organization's domains, proposed as domain assets.
-- One row per organization and name; a name found again moves last_seen and gains sources, but
-- keeps the decision people made about it (a dismissed name stays dismissed).
CREATE TABLE asset_candidates (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 253),
    sources      text[] NOT NULL,
    addresses    text[] NOT NULL DEFAULT '{}',
    found_from   uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    last_run_id  uuid NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'dismissed')),
    asset_id     uuid REFERENCES assets (id) ON DELETE SET NULL,
    decided_at   timestamptz,
    UNIQUE (org_id, name)
);
CREATE INDEX asset_candidates_status_idx ON asset_candidates (org_id, status, id);

-- Candidates under a verified domain of the organization become assets without waiting.
ALTER TABLE scan_settings ADD COLUMN auto_approve_candidates boolean NOT NULL DEFAULT false;
