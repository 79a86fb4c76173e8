-- 030_hot_post_update: a customer post's UPDATE of its conversation is a HOT update (issue 11,
-- Postgres's CPU per post): a new version of the row on the same page and no index entry.
--
-- Postgres 15 writes an update as heap-only (HOT) when the page has room and no indexed column
-- (key, INCLUDE, expression or predicate column) has a new value; a column set to the value it
-- had does not count. A post sets last_seq, version, the unread counters and updated_at; only
-- updated_at was indexed, in three indexes, so every post inserted a new entry into each index
-- that holds the row (an automated conversation's: five btrees and the tags GIN) and the dead
-- ones churned (bottom-up deletion and its heap visits: ~6 % of the backends' CPU in perf).
-- No index holds updated_at now:
--
-- - conversations_agent_active_idx is (assigned_agent_id) WHERE status = 'agent': an agent's
--   active chats are few (max_active_chats); chat_agent_active counts them, the active view
--   sorts them in memory (sql/functions/60_agent_views.sql).
-- - conversations_customer_agent_idx goes: the sticky strategy's lookup (the agent who last
--   served a customer, chat_assign_pick) reads the customer's few conversations through
--   conversations_customer_idx and sorts them.
-- - conversations_site_updated_idx (site, updated_at DESC, id) becomes (site, updated_minute
--   DESC). updated_minute is updated_at rounded down to its minute, stored (date_bin on
--   timestamptz is immutable: no time zone in it), so a post in the minute of its conversation's
--   last change writes the value it had. The views that list a site newest first (supervisors'
--   all and closed) answer in (updated_at DESC, id) order exactly as before: they order by
--   (updated_minute DESC, updated_at DESC, id), the same order because updated_minute never
--   decreases as updated_at grows; the index gives the minutes in order, an Incremental Sort
--   sorts each minute's conversations until the page is full, and a later page starts at its
--   cursor's minute (updated_minute <= the cursor's updated_at). What it costs: a page reads all
--   conversations of the minutes it reaches (the site's conversations changed in one minute:
--   every open one of a shop at full load, instead of a page of index entries).
-- - fillfactor 85: a page keeps room for the next version of its rows (HOT needs it on the
--   same page; pruning on the page gives it back). ADD COLUMN ... STORED rewrites the table
--   and its indexes at the new fillfactor, under its ACCESS EXCLUSIVE lock (3.3 s for 200 000
--   conversations on the loaded 2-core dev machine).
--
-- Other updates that change updated_at still change indexed columns (assignment, close,
-- requeue: status, assigned_agent_id) or the minute, and stay non-HOT; a read receipt
-- (version, counters) was HOT-able already and now finds the room.
--
-- Measured (2026-12-01, A/B alternated on one stack, bench/batch-cpu.sh 16: 16 posts a call
-- into 3 000 conversations): 96 % of the conversation updates HOT (82-87 % at fillfactor 100),
-- Postgres 0.166 ms a post against 0.217 (means of 9 runs each, load 5-7 from other work);
-- with a microsecond instead of a minute (never HOT) 0.215: what a non-HOT post costs is
-- unchanged. A site of 200 000 conversations: a first page of view=all 0.2 ms, a later one
-- 0.15 ms (46 ms before: the cursor was a filter over the index, not a bound); 30 000 of them
-- changed within one minute: a first page 50 ms instead of 17.
ALTER TABLE conversations SET (fillfactor = 85);
DROP INDEX conversations_agent_active_idx;
DROP INDEX conversations_customer_agent_idx;
DROP INDEX conversations_site_updated_idx;
ALTER TABLE conversations
    ADD COLUMN updated_minute timestamptz NOT NULL
        GENERATED ALWAYS AS (date_bin('1 minute', updated_at, timestamptz '2000-01-01 00:00:00+00')) STORED;
COMMENT ON COLUMN conversations.updated_minute IS
    'updated_at rounded down to its minute: what the site lists'' index holds, so that a post within the minute is a HOT update (030_hot_post_update).';

-- an agent's active chats (and their count for capacity)
CREATE INDEX conversations_agent_active_idx ON conversations (assigned_agent_id)
    WHERE status = 'agent';
-- a site's conversations newest first, by minute (the views all and closed)
CREATE INDEX conversations_site_updated_minute_idx ON conversations (site, updated_minute DESC);
