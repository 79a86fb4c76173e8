-- 001_init: the tables the chat API needs (conversations, messages, agents, FAQ).
-- A schema migration: applied once by `chatctl migrate` inside a transaction; the
-- use-case functions live in sql/functions/.

-- Agents, supervisors and admins who answer chats; soft-deleted with deleted_at.
CREATE TABLE agents (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username          text        NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    display_name      text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 128),
    role              text        NOT NULL DEFAULT 'agent'
                                  CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash     text        NOT NULL,
    token_version     bigint      NOT NULL DEFAULT 1,
    presence          text        NOT NULL DEFAULT 'offline'
                                  CHECK (presence IN ('online', 'away', 'offline')),
    max_active_chats  int         NOT NULL DEFAULT 5 CHECK (max_active_chats >= 0),
    last_seen_at      timestamptz,
    last_assigned_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
COMMENT ON TABLE agents IS 'People who answer chats (agent, supervisor, admin); soft-deleted with deleted_at.';

-- usernames are unique case-insensitively (no citext needed)
CREATE UNIQUE INDEX agents_username_lower_key ON agents (lower(username));
-- assignment looks for online agents
CREATE INDEX agents_online_idx ON agents (last_assigned_at NULLS FIRST)
    WHERE presence = 'online' AND deleted_at IS NULL;

-- One customer conversation: automated -> agent -> closed.
CREATE TABLE conversations (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id              text        NOT NULL,
    status                  text        NOT NULL DEFAULT 'automated'
                                        CHECK (status IN ('automated', 'agent', 'closed')),
    assigned_agent_id       uuid        REFERENCES agents (id),
    context                 jsonb       NOT NULL DEFAULT '{}'::jsonb,
    last_seq                int         NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    queued_at               timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    requested_agent_at      timestamptz,
    closed_at               timestamptz,
    customer_last_read_seq  int         NOT NULL DEFAULT 0,
    agent_last_read_seq     int         NOT NULL DEFAULT 0,
    CHECK (status <> 'closed' OR closed_at IS NOT NULL),
    CHECK (status = 'agent' OR assigned_agent_id IS NULL OR status = 'closed')
);
COMMENT ON TABLE conversations IS 'One customer chat and its lifecycle state (automated, agent, closed); last_seq is the highest message seq.';

-- a session token finds its conversations
CREATE INDEX conversations_session_idx ON conversations (session_id, created_at DESC);
-- the queue: waiting for an agent, oldest (queued_at) first
CREATE INDEX conversations_queue_idx ON conversations (queued_at, created_at)
    WHERE status = 'agent' AND assigned_agent_id IS NULL;
-- an agent's active chats (and their count for capacity)
CREATE INDEX conversations_agent_active_idx ON conversations (assigned_agent_id, updated_at DESC)
    WHERE status = 'agent';
-- closed and "all" views, newest first
CREATE INDEX conversations_updated_idx ON conversations (updated_at DESC, id);

-- Every message of a conversation, numbered 1, 2, 3, ... by seq with no gaps.
CREATE TABLE messages (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              int         NOT NULL CHECK (seq >= 1),
    sender_type      text        NOT NULL
                                 CHECK (sender_type IN ('customer', 'bot', 'agent', 'system')),
    sender_agent_id  uuid        REFERENCES agents (id),
    kind             text        NOT NULL DEFAULT 'text'
                                 CHECK (kind IN ('text', 'quick_reply', 'event')),
    content          text        NOT NULL,
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    client_id        uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    read_at          timestamptz,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_id),
    CHECK (sender_type = 'agent' OR sender_agent_id IS NULL)
);
COMMENT ON TABLE messages IS 'Messages of a conversation; (conversation_id, seq) orders them, client_id makes retried writes idempotent.';

-- history by agent (e.g. for a soft-deleted agent's name in history)
CREATE INDEX messages_sender_agent_idx ON messages (sender_agent_id)
    WHERE sender_agent_id IS NOT NULL;

-- The FAQ the bot answers from, edited by admins.
CREATE TABLE faq_entries (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug           text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    question       text        NOT NULL CHECK (length(question) >= 1),
    answer         text        NOT NULL CHECK (length(answer) >= 1),
    keywords       text[]      NOT NULL DEFAULT '{}',
    display_order  int         NOT NULL DEFAULT 0,
    is_active      boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE faq_entries IS 'FAQ entries the bot matches customer questions against; active ones listed by display_order.';

CREATE INDEX faq_entries_active_order_idx ON faq_entries (display_order, id) WHERE is_active;
