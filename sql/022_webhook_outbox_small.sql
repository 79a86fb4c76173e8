-- 022_webhook_outbox_small: the outbox row a write adds becomes small and typed, and the
-- deliveries per webhook are made by the sender's claim instead of by the write
-- (README "Webhooks and the write path"; functions in sql/functions/97_webhooks.sql).
--
-- Before, the triggers rendered each event's JSON (conversation.updated: the whole
-- Conversation with its joins and queue position, on every post) and wrote one delivery row
-- per webhook, all in the writer's transaction: with one webhook of every type POST
-- /messages ran at a sixth of its speed. Now a write adds one outbox row per event:
--   ref   the row the event is about (a message, a note, the assigned agent), rendered when
--         the event is claimed: messages and notes do not change (a message's read_at is
--         shown as it was when the event was written);
--   snap  for conversation.updated, chat.closed, conversation.rated and
--         conversation.offline_reply: the conversation's row as the change left it
--         (to_jsonb of the row, no joins), so an event delivered after later changes still
--         describes its own change;
--   data  an event rendered when written (agent.presence.changed, rare; rows written before
--         this migration).
-- fanned: the claim has made this event's deliveries (one per webhook that wants it). Rows
-- written before this migration have theirs already.

ALTER TABLE outbox ALTER COLUMN data DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN ref uuid;
ALTER TABLE outbox ADD COLUMN snap jsonb;
ALTER TABLE outbox ADD COLUMN fanned boolean NOT NULL DEFAULT true;
ALTER TABLE outbox ALTER COLUMN fanned SET DEFAULT false;
COMMENT ON COLUMN outbox.ref IS 'The message, note or agent the event is about (rendered when claimed).';
COMMENT ON COLUMN outbox.snap IS 'The conversation row as the change left it (conversation events).';
COMMENT ON COLUMN outbox.fanned IS 'The claim made its deliveries (one per webhook wanting it).';

-- the events whose deliveries are still to be made, in id order: few rows, however long the
-- backlog of deliveries
CREATE INDEX outbox_unfanned_idx ON outbox (id) WHERE NOT fanned;

-- its signature changed (an outbox row no longer carries rendered JSON nor an order key)
DROP FUNCTION IF EXISTS chat_outbox_add(text, uuid, uuid, text, jsonb);
-- the sender records its deliveries' ends in batches now (arrays)
DROP FUNCTION IF EXISTS chat_webhook_done(uuid, bigint, bool, text, int, int);
