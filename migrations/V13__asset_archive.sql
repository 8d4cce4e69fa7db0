-- An asset taken out of the inventory is archived, not deleted: its scans and findings stay
-- as history, it is no longer listed by default, scanned or proven again.
ALTER TABLE assets ADD COLUMN archived_at timestamptz;
