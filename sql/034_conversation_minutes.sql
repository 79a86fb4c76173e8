-- 034_conversation_minutes: the supervisors' list key (a site's conversations by the minute of
-- their last change) moves out of conversations into a narrow table, so that a real chat's post
-- (more than a minute after its conversation's last change) is a HOT update of its conversation
-- (issue 11, Postgres's CPU per post).
--
-- Since 030_hot_post_update a post within the minute of its conversation's last change is HOT:
-- no indexed column of conversations changes. A post a minute or more later changed
-- updated_minute, held by conversations_site_updated_minute_idx: the update was not HOT and
-- wrote an entry into each of the conversation's indexes (6 of an automated chat's 11, 7 with an
-- agent), a new wide row version elsewhere, and the cleanup after: ~77 000 Postgres instructions
-- (~55 us) more than a warm post (README "Session 15, indexes and a customer post"; most posts
-- of real chats are such). Now:
--
-- - conversation_minutes (id, site, updated_minute): one narrow row a conversation, its key id
--   (and a foreign key: deleting a conversation deletes it), and the index the lists read,
--   (site, updated_minute DESC). updated_minute is chat_minute(updated_at) (10_common.sql): the
--   conversation's updated_at rounded down to its minute, as conversations.updated_minute was. A cold post
--   updates the narrow row (two small index entries) and its conversation HOT.
-- - Nothing keeps it by trigger (a row trigger cost what it saved: its plpgsql call and a
--   statement's executor start per conversation; README, wt-idx): every writer of
--   conversations.updated_at writes the narrow row itself, in the same transaction, after its
--   UPDATE of the conversation, whose row lock it holds (so writers of one narrow row never wait
--   on each other in an order of their own): chat_session inserts it with the conversation;
--   chat_minute_touch (10_common.sql) after each single-row UPDATE; the post batch in a CTE of
--   its own UPDATE, set-based. Each updates the row only when the minute changed: within the
--   minute the narrow row is only looked up. t/21 checks that every kind of change moves its
--   conversation to the top of the site's list, in the order of updated_at.
-- - site is a copy of conversations.site, which no writer changes (the tenant key).
-- - conversations.updated_minute (a stored generated column) goes with its index: nothing else
--   reads it, and computing it cost every update of a conversation (DROP COLUMN rewrites
--   nothing). The backfill reads it first, under this migration's locks.
CREATE TABLE conversation_minutes (
    id              uuid        PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    site            text        NOT NULL,
    updated_minute  timestamptz NOT NULL
);
COMMENT ON TABLE conversation_minutes IS
    'A conversation''s site and the minute of its last change (chat_minute(updated_at)), written by every writer of conversations.updated_at: what the site lists are ordered by, so that a conversation''s own update stays HOT (034_conversation_minutes).';

INSERT INTO conversation_minutes (id, site, updated_minute)
SELECT id, site, updated_minute FROM conversations;

-- a site's conversations newest first, by minute (the views all and closed)
CREATE INDEX conversation_minutes_site_minute_idx
    ON conversation_minutes (site, updated_minute DESC);

DROP INDEX conversations_site_updated_minute_idx;
ALTER TABLE conversations DROP COLUMN updated_minute;
ANALYZE conversation_minutes;
