-- The findings a job's report created, kept on the job: a worker that dies after base applied
-- the report learns them again from the redelivered report and announces them then.
ALTER TABLE scan_jobs ADD COLUMN created_findings uuid[] NOT NULL DEFAULT '{}';
