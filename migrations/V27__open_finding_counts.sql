-- Open findings (open, in progress, reopened) counted per asset and severity, kept by the
-- findings table's own statements (statement-level triggers over their transition tables, so
-- a report of a thousand findings costs one small upsert). The dashboard and the partner
-- portfolio read these rows, a handful per asset, instead of every open finding.
CREATE TABLE open_finding_counts (
    asset_id  uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    org_id    uuid NOT NULL,
    severity  text NOT NULL,
    open      bigint NOT NULL,
    PRIMARY KEY (asset_id, severity)
);
CREATE INDEX open_finding_counts_org_idx ON open_finding_counts (org_id);

-- Rows are changed in (asset, severity) order, so two reports touching the same assets lock
-- their counters in the same order and cannot deadlock on them.
CREATE FUNCTION open_finding_counts_after_insert() RETURNS trigger AS $$
BEGIN
    INSERT INTO open_finding_counts AS c (asset_id, org_id, severity, open)
    SELECT asset_id, org_id, severity, count(*) FROM new_rows
    WHERE status IN ('open', 'in_progress', 'reopened')
    GROUP BY asset_id, org_id, severity
    ORDER BY asset_id, severity
    ON CONFLICT (asset_id, severity) DO UPDATE SET open = c.open + EXCLUDED.open;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION open_finding_counts_after_update() RETURNS trigger AS $$
BEGIN
    INSERT INTO open_finding_counts AS c (asset_id, org_id, severity, open)
    SELECT asset_id, org_id, severity, sum(delta) FROM (
        SELECT asset_id, org_id, severity, 1 AS delta FROM new_rows
        WHERE status IN ('open', 'in_progress', 'reopened')
        UNION ALL
        SELECT asset_id, org_id, severity, -1 FROM old_rows
        WHERE status IN ('open', 'in_progress', 'reopened')
    ) changes
    GROUP BY asset_id, org_id, severity
    HAVING sum(delta) <> 0
    ORDER BY asset_id, severity
    ON CONFLICT (asset_id, severity) DO UPDATE SET open = c.open + EXCLUDED.open;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Only ever an update: findings are deleted with their asset, whose counters go with it.
CREATE FUNCTION open_finding_counts_after_delete() RETURNS trigger AS $$
BEGIN
    UPDATE open_finding_counts c SET open = c.open - gone.open
    FROM (SELECT asset_id, severity, count(*) AS open FROM old_rows
          WHERE status IN ('open', 'in_progress', 'reopened')
          GROUP BY asset_id, severity) gone
    WHERE c.asset_id = gone.asset_id AND c.severity = gone.severity;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER open_finding_counts_insert AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_finding_counts_after_insert();
CREATE TRIGGER open_finding_counts_update AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_finding_counts_after_update();
CREATE TRIGGER open_finding_counts_delete AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_finding_counts_after_delete();

INSERT INTO open_finding_counts (asset_id, org_id, severity, open)
SELECT asset_id, org_id, severity, count(*) FROM findings
WHERE status IN ('open', 'in_progress', 'reopened')
GROUP BY asset_id, org_id, severity;

-- The open findings at the end of each past day (UTC), per organization, written the first
-- time a dashboard needs that day: a day that has ended no longer changes, so the trend reads
-- these rows and replays only today's changes.
CREATE TABLE open_finding_days (
    org_id    uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day       date NOT NULL,
    critical  bigint NOT NULL,
    high      bigint NOT NULL,
    medium    bigint NOT NULL,
    low       bigint NOT NULL,
    info      bigint NOT NULL,
    PRIMARY KEY (org_id, day)
);

-- Findings of one status (accepted risks, false positives) or one rule, in the list's default
-- order, without walking every other finding of the organization.
CREATE INDEX findings_org_status_severity_idx
    ON findings (org_id, status, severity_rank, last_seen, id);
CREATE INDEX findings_org_rule_severity_idx
    ON findings (org_id, rule, severity_rank, last_seen, id);
