-- Outbound webhooks. An endpoint's signing secret is stored sealed (AES-256-GCM under the
-- deployment's secrets key); during a rotation the previous one signs too, until
-- previous_secret_until. A delivery is one event for one endpoint, unique per pair so that an
-- event recorded twice is delivered once; deliverers claim due ones with a lease under
-- FOR UPDATE SKIP LOCKED, like schedules, and record every attempt.

CREATE TABLE webhook_endpoints (
    id                     uuid PRIMARY KEY,
    org_id                 uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                    text NOT NULL,
    description            text,
    event_types            text[] NOT NULL DEFAULT '{}',
    sealed_secret          text NOT NULL,
    previous_sealed_secret text,
    previous_secret_until  timestamptz,
    disabled               boolean NOT NULL DEFAULT false,
    disabled_reason        text,
    failing_since          timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (org_id, created_at);

CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          uuid NOT NULL,
    event_type        text NOT NULL,
    payload           jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    claimed_until     timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number        integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    error         text,
    duration_ms   bigint NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
-- A claim walks each endpoint's due deliveries in order.
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending';

-- Inbound hooks: a signed call starts a scan of the hook's asset. Each call's message id is
-- kept for a while, once per hook: a replayed call is refused.
CREATE TABLE inbound_hooks (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id        uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name            text,
    profile         text,
    checks          text[],
    sealed_secret   text NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    last_called_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_hooks_org_idx ON inbound_hooks (org_id, created_at);

CREATE TABLE inbound_hook_messages (
    hook_id      uuid NOT NULL REFERENCES inbound_hooks (id) ON DELETE CASCADE,
    message_id   text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (hook_id, message_id)
);
CREATE INDEX inbound_hook_messages_received_idx ON inbound_hook_messages (received_at);
