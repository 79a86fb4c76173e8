-- 020_webhooks: API.md "Webhooks (transactional outbox)": a site's webhooks, the outbox the
-- writes fill in their own transaction, and each webhook's pending deliveries.
--
-- The outbox rows are written by triggers (sql/functions/97_webhooks.sql) that exist only
-- while some webhook exists: chat_admin_webhook_create installs them, the delete of the last
-- webhook drops them, so a database without webhooks pays nothing on its write path.

-- A webhook of a site: its URL (unique on the site), the event types it wants, and the secret
-- the bodies are signed with: encrypted by core with a key derived from chat_secret
-- ("v1:" base64 of AES-256-GCM, chat::webhook::seal_secret), never returned by the API.
CREATE TABLE webhooks (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    site               text        NOT NULL DEFAULT 'default'
        CONSTRAINT webhooks_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    url                text        NOT NULL CHECK (length(url) BETWEEN 8 AND 2048),
    events             text[]      NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 16),
    secret             text        NOT NULL CHECK (length(secret) BETWEEN 16 AND 512),  -- sealed by core
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_delivered_at  timestamptz,
    last_error         text,
    last_error_at      timestamptz,
    UNIQUE (site, url)
);
COMMENT ON TABLE webhooks IS 'A site''s webhook: where its events are POSTed, which types, the signing secret.';

-- One durable event of a site, written in the transaction of the change it describes.
-- event_id is the "id" receivers see (at least once: they drop duplicates by it); id orders
-- the events of one conversation (a conversation's writers hold its row lock, so their ids
-- grow in commit order). conversation_id is NULL for agent.presence.changed.
CREATE TABLE outbox (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    site             text        NOT NULL,
    conversation_id  uuid        REFERENCES conversations (id) ON DELETE CASCADE,
    type             text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    data             jsonb       NOT NULL
);
COMMENT ON TABLE outbox IS 'Events waiting for webhook delivery (transactional outbox); removed once every delivery is done.';
CREATE INDEX outbox_conversation_idx ON outbox (conversation_id);

-- What one webhook still has to receive of the outbox. order_key is the conversation (or,
-- for presence, the agent): only the lowest outbox_id of a (webhook, order_key) is ever
-- claimed, so each webhook gets each conversation's events in order, and a failing webhook
-- holds back only its own rows. leased_until: claimed by a sender (one at a time, on any
-- node) until then. webhook_id has no foreign key on purpose: every write that fills the
-- outbox would take a KEY SHARE lock on the same webhook row, and concurrent writers would
-- share it through multixacts (the write path slowed 9x in make bench); the delete of a
-- webhook deletes its deliveries itself, and a claim joins webhooks (a row that slipped in
-- meanwhile is never sent, and goes with its outbox row's conversation).
CREATE TABLE webhook_deliveries (
    webhook_id       uuid        NOT NULL,
    outbox_id        bigint      NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    order_key        uuid        NOT NULL,
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_until     timestamptz,
    PRIMARY KEY (webhook_id, outbox_id)
);
COMMENT ON TABLE webhook_deliveries IS 'Pending deliveries of outbox events to webhooks, with their retry state.';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (webhook_id, order_key, outbox_id);
CREATE INDEX webhook_deliveries_outbox_idx ON webhook_deliveries (outbox_id);
-- the leases in flight per webhook (a claim counts them): few rows, however long the backlog
CREATE INDEX webhook_deliveries_leased_idx ON webhook_deliveries (webhook_id) WHERE leased_until IS NOT NULL;
