-- People: users sign in with a password (an Argon2id hash, made by the gateway), join by
-- invitation, and every state-changing request leaves an audit entry.

ALTER TABLE users
    ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT users_email_lowercase CHECK (email = lower(email));
ALTER TABLE users ALTER COLUMN password_hash SET NOT NULL;

-- The invitation secret is with the invitee; only its SHA-256 is kept.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        text NOT NULL CHECK (email = lower(email)),
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash   text NOT NULL UNIQUE,
    invited_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz
);
CREATE INDEX invitations_org_idx ON invitations (org_id, created_at DESC);

ALTER TABLE api_keys ADD COLUMN created_by uuid;

-- Append-only: the API has no route that changes an entry, and the table refuses updates.
-- actor_id is not a foreign key: an entry outlives the user or key it names.
CREATE TABLE audit_log (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    actor_kind     text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'anonymous')),
    actor_id       uuid,
    actor_label    text NOT NULL,
    actor_org_id   uuid,
    action         text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text,
    outcome        integer NOT NULL CHECK (outcome BETWEEN 100 AND 599),
    ip             text,
    trace_id       text
);
-- Ids are UUIDv7: ordering by id is ordering by time, and the id is the page cursor.
CREATE INDEX audit_log_org_id_idx ON audit_log (org_id, id DESC);

CREATE FUNCTION audit_log_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries cannot be changed';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_update();
