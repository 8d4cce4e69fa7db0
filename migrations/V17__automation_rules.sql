-- Automation rules: on an event of the rule's type whose conditions hold, run its actions.
-- A firing is recorded once per rule and event, whoever records it again.
CREATE TABLE automation_rules (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name           text NOT NULL,
    description    text,
    event          text NOT NULL,
    conditions     jsonb NOT NULL DEFAULT '{}',
    actions        jsonb NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    fired_count    bigint NOT NULL DEFAULT 0,
    last_fired_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_rules_org_idx ON automation_rules (org_id, created_at);
CREATE INDEX automation_rules_event_idx ON automation_rules (org_id, event) WHERE NOT disabled;

CREATE TABLE rule_firings (
    rule_id     uuid NOT NULL REFERENCES automation_rules (id) ON DELETE CASCADE,
    event_id    uuid NOT NULL,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_type  text NOT NULL,
    asset_id    uuid,
    fired_at    timestamptz NOT NULL,
    actions     jsonb NOT NULL,
    PRIMARY KEY (rule_id, event_id)
);
CREATE INDEX rule_firings_recent_idx ON rule_firings (rule_id, fired_at DESC);

-- A run a rule started names the rule and the event: one run per pair. caused_by is the chain
-- of rules that led to it, which its own events carry on (loop prevention).
ALTER TABLE scan_runs
    ADD COLUMN rule_id uuid REFERENCES automation_rules (id) ON DELETE SET NULL,
    ADD COLUMN rule_event_id uuid,
    ADD COLUMN caused_by uuid[] NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX scan_runs_rule_event_key ON scan_runs (rule_id, rule_event_id)
    WHERE rule_id IS NOT NULL;
-- And one scan of an asset per rule at a time: a scan's dozen new findings fire a rescan rule a
-- dozen times, and start one scan.
CREATE UNIQUE INDEX scan_runs_rule_asset_running_key ON scan_runs (rule_id, asset_id)
    WHERE rule_id IS NOT NULL AND status IN ('queued', 'running');

-- A rule's action may change a finding's status; the history names the rule.
ALTER TABLE finding_events DROP CONSTRAINT finding_events_actor_kind_check;
ALTER TABLE finding_events ADD CONSTRAINT finding_events_actor_kind_check
    CHECK (actor_kind IN ('user', 'api_key', 'system', 'rule'));

-- Events that base's own changes make (a finding's status changed, an asset registered),
-- written in the transaction of the change and published to the bus by s4e-trigger, which
-- claims them with a lease under FOR UPDATE SKIP LOCKED and deletes them once published: an
-- event is never lost with a crash between the change and the publish.
CREATE TABLE outbox_events (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_type     text NOT NULL,
    payload        jsonb NOT NULL,
    caused_by      uuid[] NOT NULL DEFAULT '{}',
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until  timestamptz
);
CREATE INDEX outbox_events_occurred_idx ON outbox_events (occurred_at);
