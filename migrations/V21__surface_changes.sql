-- How the attack surface changed: one row per asset added or archived and per service that
-- appeared or went, written in the transaction of the change. The timeline and the diff
-- between two dates read it.
CREATE TABLE surface_changes (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id     uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('asset_added', 'asset_archived',
                                               'service_appeared', 'service_gone')),
    port         integer,
    detail       jsonb NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX surface_changes_org_idx ON surface_changes (org_id, occurred_at DESC, id DESC);
CREATE INDEX surface_changes_asset_idx ON surface_changes (asset_id, occurred_at DESC);
