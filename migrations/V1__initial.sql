-- The first schema: tenants, their keys and assets, scan runs and jobs, deduplicated findings.
-- Every tenant-owned table carries org_id, and every query filters by it.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email          text NOT NULL,
    password_hash  text,
    role           text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (email)
);
CREATE INDEX users_org_idx ON users (org_id);

-- Only the SHA-256 of a key is stored; the prefix lets people tell their keys apart.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL,
    prefix      text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id);

CREATE TABLE assets (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('url', 'domain', 'ip')),
    value       text NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, kind, value)
);

-- The scan catalog's checks. Not tenant-owned: the platform ships them.
CREATE TABLE scan_definitions (
    key               text PRIMARY KEY,
    name              text NOT NULL,
    category          text NOT NULL,
    executor          text NOT NULL,
    description       text NOT NULL,
    default_config    jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO scan_definitions (key, name, category, executor, description) VALUES
    ('http_headers', 'HTTP security headers', 'web', 'http_headers',
     'Missing HSTS (over HTTPS), CSP, X-Content-Type-Options, clickjacking protection and '
     'Referrer-Policy; server and framework version disclosure.');

CREATE TABLE scan_runs (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id        uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    profile         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    jobs_total      integer NOT NULL CHECK (jobs_total >= 0),
    jobs_completed  integer NOT NULL DEFAULT 0,
    jobs_failed     integer NOT NULL DEFAULT 0,
    findings_count  integer NOT NULL DEFAULT 0,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX scan_runs_org_created_idx ON scan_runs (org_id, created_at DESC);

CREATE TABLE scan_jobs (
    id             uuid PRIMARY KEY,
    run_id         uuid NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    check_kind     text NOT NULL,
    target         text NOT NULL,
    status         text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    error          text,
    raw_output_id  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX scan_jobs_run_idx ON scan_jobs (run_id);

-- One row per (organization, fingerprint): re-scans update it instead of adding rows.
CREATE TABLE findings (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    fingerprint    text NOT NULL,
    check_kind     text NOT NULL,
    rule           text NOT NULL,
    location       text NOT NULL,
    title          text NOT NULL,
    severity       text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    score          real NOT NULL CHECK (score BETWEEN 0 AND 10),
    cwe            integer,
    description    text NOT NULL,
    remediation    text NOT NULL,
    evidence       jsonb NOT NULL,
    raw_output_id  text,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fixed')),
    occurrences    integer NOT NULL DEFAULT 1,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    last_run_id    uuid NOT NULL,
    UNIQUE (org_id, fingerprint)
);
CREATE INDEX findings_org_asset_idx ON findings (org_id, asset_id);

-- Which runs saw which finding: answers "the findings of scan X" after later re-scans.
CREATE TABLE finding_occurrences (
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    run_id      uuid NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (finding_id, run_id)
);
CREATE INDEX finding_occurrences_run_idx ON finding_occurrences (org_id, run_id);
