-- 017_agent_tools: the agent tools of API.md ("Agent tools", "Admin"): tags on a conversation,
-- agents' private notes, canned replies per site, and the full-text index that the views'
-- q= filter searches message text with. Existing conversations: no tags.

-- Tags: lowercase, each ^[a-z0-9][a-z0-9_-]{0,31}$ (limits::kTagPattern), at most 10
-- (limits::kTagsMax), no duplicates (core normalises and deduplicates; the CHECK bounds
-- what any writer may store). The pattern has no space: the tags joined with spaces match
-- tag( tag)*, and splitting that string at spaces gives back as many tags (an element
-- holding a space would give more).
ALTER TABLE conversations
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
        CONSTRAINT conversations_tags_check CHECK (
            cardinality(tags) <= 10 AND array_position(tags, NULL) IS NULL
            AND (cardinality(tags) = 0
                 OR (array_to_string(tags, ' ') ~ '^[a-z0-9][a-z0-9_-]{0,31}( [a-z0-9][a-z0-9_-]{0,31})*$'
                     AND cardinality(string_to_array(array_to_string(tags, ' '), ' ')) = cardinality(tags))));
-- GET /agent/conversations?tag=
CREATE INDEX conversations_tags_idx ON conversations USING gin (tags);

-- Private notes: agents only, never a seq, never shown to the customer. after_seq is the
-- conversation's last_seq when the note was written (where it sits in the timeline);
-- client_id makes a retried write return the same note.
CREATE TABLE notes (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_id         uuid        NOT NULL REFERENCES agents (id),
    text             text        NOT NULL CHECK (length(text) >= 1),
    after_seq        int         NOT NULL CHECK (after_seq >= 0),
    client_id        uuid,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (conversation_id, client_id)
);
COMMENT ON TABLE notes IS 'Agents'' private notes on a conversation; never shown to the customer, never a seq.';
CREATE INDEX notes_conversation_idx ON notes (conversation_id, created_at, id);
CREATE INDEX notes_agent_idx ON notes (agent_id);

-- Canned replies, per site; a shortcut is unique within its site. text may hold
-- {{customer.name}} and {{agent.name}}, stored as written (the dashboard fills them in).
CREATE TABLE canned_replies (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    site        text        NOT NULL DEFAULT 'default'
        CONSTRAINT canned_replies_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    shortcut    text        NOT NULL
        CONSTRAINT canned_replies_shortcut_check CHECK (shortcut ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    title       text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    text        text        NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site, shortcut)
);
COMMENT ON TABLE canned_replies IS 'Canned replies of a site, picked by shortcut in the dashboard.';

-- q=: full-text search over message text. 'simple' (no stemming, no stop words): the
-- shops' customers write in any language. The view's filter repeats this exact expression
-- (chat_agent_conversations, sql/functions/60_agent_views.sql), so the planner uses it.
CREATE INDEX messages_content_fts_idx ON messages USING gin (to_tsvector('simple', content));

-- GET /agent/conversations takes the filters now (sql/functions/60_agent_views.sql);
-- CREATE OR REPLACE cannot change a function's arguments, so the old one goes first.
DROP FUNCTION IF EXISTS chat_agent_conversations(uuid, text, text, int, bigint, uuid, text);
