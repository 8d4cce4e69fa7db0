-- How much an asset matters, and who answers for it.
ALTER TABLE assets ADD COLUMN criticality text NOT NULL DEFAULT 'medium'
    CHECK (criticality IN ('low', 'medium', 'high', 'critical'));
ALTER TABLE assets ADD COLUMN owner text;
