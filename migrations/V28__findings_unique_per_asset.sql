-- A finding is unique per (organization, asset, fingerprint) rather than (organization,
-- fingerprint). The fingerprint already hashes the asset, so the rule is the same; the key is
-- what changes. Hashes are random, so every report's new findings went to random pages of an
-- index spanning the whole organization, and writes slowed as the table outgrew memory (each
-- page dirtied again after a checkpoint is written whole to the WAL). Asset ids are
-- time-ordered, so keyed by asset first a report's findings share a few neighbouring pages.
-- The same index answers lookups by (organization, asset), so that index goes.
CREATE UNIQUE INDEX findings_org_asset_fingerprint_key
    ON findings (org_id, asset_id, fingerprint);
ALTER TABLE findings DROP CONSTRAINT findings_org_id_fingerprint_key;
DROP INDEX findings_org_asset_idx;
