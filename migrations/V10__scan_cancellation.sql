-- Scans can be cancelled: the run and its unfinished jobs end `cancelled` together, in one
-- transaction of base (db/runs.rs `cancel`).

ALTER TABLE scan_runs DROP CONSTRAINT scan_runs_status_check;
ALTER TABLE scan_runs ADD CONSTRAINT scan_runs_status_check CHECK (status IN
    ('queued', 'running', 'completed', 'failed', 'cancelled'));

ALTER TABLE scan_jobs DROP CONSTRAINT scan_jobs_status_check;
ALTER TABLE scan_jobs ADD CONSTRAINT scan_jobs_status_check CHECK (status IN
    ('queued', 'running', 'completed', 'failed', 'cancelled'));
