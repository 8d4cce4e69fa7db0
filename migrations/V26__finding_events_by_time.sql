-- The dashboard's trend reads an organization's status changes of the last weeks by time.
CREATE INDEX finding_events_org_time_idx ON finding_events (org_id, occurred_at);
