-- 021_retention: API.md "Retention": chat_retention deletes closed conversations older than
-- its age, and `chatctl erase --email` one customer's data (sql/functions/97_retention.sql).
--
-- Both delete conversations and let the foreign keys take every row that belongs to one.
-- The keys that point at conversations or messages, each ON DELETE CASCADE already:
--   messages.conversation_id       (001_init)
--   notes.conversation_id          (017_agent_tools)
--   bot_feedback.conversation_id   (018_feedback_reports)
--   bot_feedback.message_id        (018_feedback_reports)
--   the webhook outbox's conversation_id (020, webhooks)
-- so this migration adds none; the check below refuses to apply while any key to either
-- table would keep a row alive (or block the delete), and t/49-retention.t checks the
-- same on the final schema. Ratings are columns of conversations. conversations.customer_id
-- points the other way (a customer is deleted after their conversations).

DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('%s (%s)', conrelid::regclass, conname), ', ') INTO bad
      FROM pg_constraint
     WHERE contype = 'f' AND confrelid IN ('conversations'::regclass, 'messages'::regclass)
       AND confdeltype <> 'c';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'foreign keys to conversations/messages without ON DELETE CASCADE: %', bad;
    END IF;
END
$$;

-- retention's batches: the oldest closed conversations first
CREATE INDEX conversations_closed_at_idx ON conversations (closed_at) WHERE status = 'closed';

-- a cascade from conversations finds each child row by an index (messages: its unique
-- (conversation_id, seq); notes: notes_conversation_idx; bot_feedback had none)
CREATE INDEX bot_feedback_conversation_idx ON bot_feedback (conversation_id);

-- erase finds a customer by email, whatever its case
CREATE INDEX customers_email_idx ON customers (lower(email)) WHERE email IS NOT NULL;

-- The sessions whose conversations were deleted (by retention or erase), for an hour: every
-- nginx worker polls it and drops those sessions from the shared-memory cache, so a cached
-- GET /conversation never serves a deleted conversation (Redis tells them at once; this is
-- the way that also works without Redis, or when a message was missed).
CREATE TABLE erasures (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text        NOT NULL,
    erased_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE erasures IS 'Sessions whose conversations were deleted in the last hour: nginx drops their cached copies.';
