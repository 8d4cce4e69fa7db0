-- The open findings of an organization by asset criticality and severity, in at most 64 rows
-- per organization (4 criticalities x 16 shards), kept with the per-asset counters by the same
-- triggers. The dashboard and the partner portfolio read these instead of a few counters per
-- asset, so their cost no longer grows with the assets. An asset's findings count towards one
-- of 16 shards (from its id), so reports on different assets of one organization rarely wait
-- for the same row: a report changes one row, and a statement changing several locks them in
-- key order, after the counters.
CREATE TABLE open_finding_totals (
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    criticality  text NOT NULL,
    shard        smallint NOT NULL,
    critical     bigint NOT NULL DEFAULT 0,
    high         bigint NOT NULL DEFAULT 0,
    medium       bigint NOT NULL DEFAULT 0,
    low          bigint NOT NULL DEFAULT 0,
    info         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, criticality, shard)
);

CREATE FUNCTION open_finding_shard(asset_id uuid) RETURNS smallint AS $$
    SELECT (get_byte(uuid_send(asset_id), 15) % 16)::smallint
$$ LANGUAGE sql IMMUTABLE;

-- Both helpers take changes as counters' rows with a signed `open`, and skip the assets that
-- are gone (their counters and totals were settled when they went: see below).
CREATE FUNCTION open_finding_counts_add(changes open_finding_counts[]) RETURNS void AS $$
BEGIN
    INSERT INTO open_finding_counts AS c (asset_id, org_id, severity, open)
    SELECT ch.asset_id, ch.org_id, ch.severity, ch.open
    FROM unnest(changes) ch
    WHERE EXISTS (SELECT 1 FROM assets a WHERE a.id = ch.asset_id)
    ORDER BY ch.asset_id, ch.severity
    ON CONFLICT (asset_id, severity) DO UPDATE SET open = c.open + EXCLUDED.open;
END $$ LANGUAGE plpgsql;

-- `as_criticality`, when given, replaces the assets' own (an asset whose criticality changes).
CREATE FUNCTION open_finding_totals_add(changes open_finding_counts[], as_criticality text DEFAULT NULL)
RETURNS void AS $$
BEGIN
    INSERT INTO open_finding_totals AS t (org_id, criticality, shard, critical, high, medium, low, info)
    SELECT ch.org_id, coalesce(as_criticality, a.criticality),
           open_finding_shard(ch.asset_id),
           coalesce(sum(ch.open) FILTER (WHERE ch.severity = 'critical'), 0),
           coalesce(sum(ch.open) FILTER (WHERE ch.severity = 'high'), 0),
           coalesce(sum(ch.open) FILTER (WHERE ch.severity = 'medium'), 0),
           coalesce(sum(ch.open) FILTER (WHERE ch.severity = 'low'), 0),
           coalesce(sum(ch.open) FILTER (WHERE ch.severity = 'info'), 0)
    FROM unnest(changes) ch JOIN assets a ON a.id = ch.asset_id
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (org_id, criticality, shard) DO UPDATE SET
        critical = t.critical + EXCLUDED.critical,
        high = t.high + EXCLUDED.high,
        medium = t.medium + EXCLUDED.medium,
        low = t.low + EXCLUDED.low,
        info = t.info + EXCLUDED.info;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION open_finding_changes_apply(changes open_finding_counts[]) RETURNS void AS $$
BEGIN
    IF cardinality(changes) > 0 THEN
        PERFORM open_finding_counts_add(changes);
        PERFORM open_finding_totals_add(changes);
    END IF;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION open_finding_counts_after_insert() RETURNS trigger AS $$
DECLARE
    changes open_finding_counts[] := ARRAY(
        SELECT (asset_id, org_id, severity, count(*))::open_finding_counts FROM new_rows
        WHERE status IN ('open', 'in_progress', 'reopened')
        GROUP BY asset_id, org_id, severity);
BEGIN
    PERFORM open_finding_changes_apply(changes);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION open_finding_counts_after_update() RETURNS trigger AS $$
DECLARE
    changes open_finding_counts[] := ARRAY(
        SELECT (asset_id, org_id, severity, sum(delta))::open_finding_counts FROM (
            SELECT asset_id, org_id, severity, 1 AS delta FROM new_rows
            WHERE status IN ('open', 'in_progress', 'reopened')
            UNION ALL
            SELECT asset_id, org_id, severity, -1 FROM old_rows
            WHERE status IN ('open', 'in_progress', 'reopened')
        ) moved
        GROUP BY asset_id, org_id, severity
        HAVING sum(delta) <> 0);
BEGIN
    PERFORM open_finding_changes_apply(changes);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION open_finding_counts_after_delete() RETURNS trigger AS $$
DECLARE
    changes open_finding_counts[] := ARRAY(
        SELECT (asset_id, org_id, severity, -count(*))::open_finding_counts FROM old_rows
        WHERE status IN ('open', 'in_progress', 'reopened')
        GROUP BY asset_id, org_id, severity);
BEGIN
    PERFORM open_finding_changes_apply(changes);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- An asset's new criticality moves its open findings between the totals; an asset about to go
-- takes its open findings out of them (its findings and counters then go by cascade, and the
-- triggers above skip an asset that is gone).
CREATE FUNCTION open_finding_totals_follow_asset() RETURNS trigger AS $$
DECLARE
    taken_away open_finding_counts[] := ARRAY(
        SELECT (c.asset_id, c.org_id, c.severity, -c.open)::open_finding_counts
        FROM open_finding_counts c WHERE c.asset_id = OLD.id);
BEGIN
    PERFORM open_finding_totals_add(taken_away, OLD.criticality);
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    PERFORM open_finding_totals_add(
        ARRAY(SELECT c FROM open_finding_counts c WHERE c.asset_id = NEW.id), NEW.criticality);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER open_finding_totals_criticality AFTER UPDATE OF criticality ON assets
    FOR EACH ROW WHEN (OLD.criticality IS DISTINCT FROM NEW.criticality)
    EXECUTE FUNCTION open_finding_totals_follow_asset();
CREATE TRIGGER open_finding_totals_asset_gone BEFORE DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION open_finding_totals_follow_asset();

INSERT INTO open_finding_totals (org_id, criticality, shard, critical, high, medium, low, info)
SELECT c.org_id, a.criticality, open_finding_shard(c.asset_id),
       coalesce(sum(c.open) FILTER (WHERE c.severity = 'critical'), 0),
       coalesce(sum(c.open) FILTER (WHERE c.severity = 'high'), 0),
       coalesce(sum(c.open) FILTER (WHERE c.severity = 'medium'), 0),
       coalesce(sum(c.open) FILTER (WHERE c.severity = 'low'), 0),
       coalesce(sum(c.open) FILTER (WHERE c.severity = 'info'), 0)
FROM open_finding_counts c JOIN assets a ON a.id = c.asset_id
GROUP BY 1, 2, 3;
