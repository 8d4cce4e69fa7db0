-- Recurring scans. A schedule is due at next_run_at (NULL while paused); a scheduler claims due
-- schedules with a lease (claimed_until) under FOR UPDATE SKIP LOCKED, so replicas share them
-- without waiting on each other, and reports what it did with each due time, which moves
-- next_run_at on only while it still names that time.

CREATE TABLE scan_schedules (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name           text,
    cron           text NOT NULL,
    timezone       text NOT NULL,
    profile        text,
    checks         text[],
    skip_windows   jsonb NOT NULL DEFAULT '[]',
    catch_up       text NOT NULL CHECK (catch_up IN ('skip', 'run_once')),
    allow_overlap  boolean NOT NULL DEFAULT false,
    paused         boolean NOT NULL DEFAULT false,
    next_run_at    timestamptz,
    claimed_until  timestamptz,
    last_due_at    timestamptz,
    last_outcome   text,
    last_run_id    uuid,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scan_schedules_org_idx ON scan_schedules (org_id, created_at);
CREATE INDEX scan_schedules_due_idx ON scan_schedules (next_run_at) WHERE next_run_at IS NOT NULL;

-- A run a schedule started names it and the due time; one run per pair, whoever asks twice.
ALTER TABLE scan_runs
    ADD COLUMN schedule_id uuid REFERENCES scan_schedules (id) ON DELETE SET NULL,
    ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX scan_runs_schedule_due_key ON scan_runs (schedule_id, scheduled_for)
    WHERE schedule_id IS NOT NULL;
