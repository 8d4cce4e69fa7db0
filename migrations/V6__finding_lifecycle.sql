-- The finding lifecycle: people triage findings (in progress, accepted risk, false positive,
-- fixed), complete re-scans fix what they no longer see and reopen what comes back, and every
-- change is kept with who made it, when and why.

ALTER TABLE findings DROP CONSTRAINT findings_status_check;
ALTER TABLE findings ADD CONSTRAINT findings_status_check CHECK (status IN
    ('open', 'in_progress', 'accepted_risk', 'false_positive', 'fixed', 'reopened'));

-- A decision that overrides what scans see must be explained.
ALTER TABLE findings
    ADD COLUMN status_reason      text,
    ADD COLUMN status_changed_at  timestamptz,
    ADD COLUMN status_changed_by  text,
    ADD CONSTRAINT findings_decisions_explained CHECK (
        status NOT IN ('accepted_risk', 'false_positive')
        OR length(btrim(coalesce(status_reason, ''))) > 0);

-- The severity as a number, so that "most severe first" is an index order and a page cursor
-- can compare it.
ALTER TABLE findings ADD COLUMN severity_rank smallint GENERATED ALWAYS AS (
    CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                  WHEN 'low' THEN 1 ELSE 0 END) STORED;

-- The three list orders, each ending with the id that makes the keyset cursor unique.
CREATE INDEX findings_org_severity_idx ON findings (org_id, severity_rank, last_seen, id);
CREATE INDEX findings_org_last_seen_idx ON findings (org_id, last_seen, id);
CREATE INDEX findings_org_first_seen_idx ON findings (org_id, first_seen, id);

-- A finding's history: one row per status change, never updated. actor_id is not a foreign
-- key (an entry outlives the user or key it names); run_id names the scan behind a system
-- change.
CREATE TABLE finding_events (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    finding_id   uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor_kind   text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id     uuid,
    actor_label  text NOT NULL,
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    reason       text,
    run_id       uuid,
    CHECK ((actor_kind = 'system') = (run_id IS NOT NULL)),
    CHECK (actor_kind = 'system' OR actor_id IS NOT NULL)
);
CREATE INDEX finding_events_finding_idx ON finding_events (org_id, finding_id, occurred_at);

CREATE FUNCTION finding_events_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'finding history cannot be changed';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER finding_events_append_only
    BEFORE UPDATE ON finding_events
    FOR EACH ROW EXECUTE FUNCTION finding_events_refuse_update();
