-- The dashboard counts an organization's queued and running runs and reads its last finished
-- one; without these it walked every run the organization ever had.
CREATE INDEX scan_runs_org_active_idx ON scan_runs (org_id, status)
    WHERE status IN ('queued', 'running');
CREATE INDEX scan_runs_org_finished_idx ON scan_runs (org_id, finished_at)
    WHERE finished_at IS NOT NULL;

-- Assets are listed by (created_at, id) within an organization: a page is an index range.
CREATE INDEX assets_org_created_idx ON assets (org_id, created_at, id);
