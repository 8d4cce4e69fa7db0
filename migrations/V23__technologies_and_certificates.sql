-- Technologies the checks identify on each asset (server, language, framework, CMS, JavaScript
-- libraries), with the version last seen and what gave it away; and the certificate each TLS
-- port of an asset last presented, so that a new one shows in the surface's timeline.
CREATE TABLE asset_technologies (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id     uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    version      text,
    category     text NOT NULL,
    evidence     text NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    last_run_id  uuid NOT NULL,
    UNIQUE (asset_id, name)
);
CREATE INDEX asset_technologies_org_idx ON asset_technologies (org_id, id);
CREATE INDEX asset_technologies_name_idx ON asset_technologies (org_id, lower(name));

CREATE TABLE asset_certificates (
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id     uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    port         integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    sha256       text NOT NULL,
    subject      text NOT NULL,
    issuer       text NOT NULL,
    not_after    text NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    last_run_id  uuid NOT NULL,
    PRIMARY KEY (asset_id, port)
);

ALTER TABLE surface_changes DROP CONSTRAINT surface_changes_kind_check;
ALTER TABLE surface_changes ADD CONSTRAINT surface_changes_kind_check CHECK (kind IN (
    'asset_added', 'asset_archived', 'service_appeared', 'service_gone',
    'technology_appeared', 'technology_changed', 'certificate_changed'));
