-- A member or viewer may be limited to assigned assets: NULL means every asset of the
-- organization. Admins and owners are never limited.
ALTER TABLE users ADD COLUMN asset_scope uuid[];
