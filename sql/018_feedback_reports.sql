-- 018_feedback_reports: API.md "Operators": the customer's rating after close, feedback on
-- the bot's answers, the questions the bot could not answer, and what the reports read.

-- "rating" of a conversation (POST /rating, once, after close); first_response_at is the
-- first agent message after requested_agent_at (chat_agent_post sets it once), so the
-- reports never look into messages for it.
ALTER TABLE conversations
    ADD COLUMN rating_score      smallint CHECK (rating_score BETWEEN 1 AND 5),
    ADD COLUMN rating_comment    text CHECK (char_length(rating_comment) BETWEEN 1 AND 1000),
    ADD COLUMN rated_at          timestamptz,
    ADD COLUMN first_response_at timestamptz;

UPDATE conversations c
   SET first_response_at = (SELECT min(m.created_at) FROM messages m
                             WHERE m.conversation_id = c.id AND m.sender_type = 'agent'
                               AND m.created_at >= c.requested_agent_at)
 WHERE c.requested_agent_at IS NOT NULL;

-- the reports: one site's conversations created in a range
CREATE INDEX conversations_site_created_idx ON conversations (site, created_at);

-- POST /feedback: one per bot answer; faq_slug is the entry that answered (NULL: the fallback).
CREATE TABLE bot_feedback (
    message_id      uuid        PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    site            text        NOT NULL,
    faq_slug        text,
    helpful         boolean     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bot_feedback IS 'The customer''s "did this answer your question?" on one bot answer.';
CREATE INDEX bot_feedback_site_idx ON bot_feedback (site, created_at);

-- The customer texts the bot answered with its fallback, normalised (trimmed, lower case,
-- whitespace collapsed, at most 200 characters), counted per site and day. Each Postgres
-- backend counts in its own row (backend: its pid), so two posts of the same question in
-- concurrent transactions never wait for each other's row lock; the reports add them up.
CREATE TABLE unmatched_questions (
    site    text   NOT NULL,
    day     date   NOT NULL,
    text    text   NOT NULL CHECK (char_length(text) BETWEEN 1 AND 200),
    backend int    NOT NULL DEFAULT 0,
    count   bigint NOT NULL DEFAULT 1 CHECK (count >= 1),
    PRIMARY KEY (site, day, text, backend)
);
COMMENT ON TABLE unmatched_questions IS 'Questions the FAQ bot could not answer, per site and day (reports "unmatched").';
