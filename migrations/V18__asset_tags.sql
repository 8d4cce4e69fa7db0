-- Tags on assets (`key` or `key=value`), which schedules and rules can name; and schedules of
-- every asset carrying a tag, each due time starting one run per asset.
ALTER TABLE assets ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
CREATE INDEX assets_tags_idx ON assets USING gin (tags);

ALTER TABLE scan_schedules ALTER COLUMN asset_id DROP NOT NULL;
ALTER TABLE scan_schedules ADD COLUMN tag text;
ALTER TABLE scan_schedules ADD CONSTRAINT scan_schedules_target_check
    CHECK ((asset_id IS NULL) <> (tag IS NULL));

DROP INDEX scan_runs_schedule_due_key;
CREATE UNIQUE INDEX scan_runs_schedule_due_key ON scan_runs (schedule_id, scheduled_for, asset_id)
    WHERE schedule_id IS NOT NULL;
-- A due time is skipped while any scan of its schedule is still going (a tag's schedule starts
-- several).
CREATE INDEX scan_runs_schedule_active_idx ON scan_runs (schedule_id)
    WHERE schedule_id IS NOT NULL AND status IN ('queued', 'running');
