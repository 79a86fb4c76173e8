-- 033_indexes: an agent's own closed and all views read what the agent handled through
-- indexes, not through every conversation (the index mend of wave 13), and a customer post's
-- bot reply is indexed by a cheaper hash of its text (issue 11, Postgres's CPU per post).
--
-- An agent's closed and all views (chat_agent_conversations, sql/functions/60_agent_views.sql)
-- start from the conversations assigned to the agent, of any status, and those the agent wrote
-- in. Only the agent's active ones (status 'agent') had an index, so the assigned ones of any
-- status were a sequential scan of conversations (~400 ms for an agent with 10 000 of them in
-- a large table), and the messages the agent wrote were a bitmap heap scan of messages, one
-- heap page a message.
--
-- - conversations_agent_idx (assigned_agent_id, status) INCLUDE (id) WHERE assigned_agent_id IS
--   NOT NULL (id: the agent's conversation ids index-only, to leave them out of the ones the
--   agent wrote in; an id never changes) replaces conversations_agent_active_idx ((assigned_agent_id) WHERE status = 'agent'): the
--   active view and chat_agent_active read its (agent, 'agent') range, the closed view its
--   (agent, 'closed') range, the all view the agent's. Neither column is one a customer's post
--   changes (it sets last_seq, version, the unread counters and updated_at), so the post's
--   UPDATE stays HOT (030_hot_post_update); automated conversations (no agent) are not in it.
--   One index where there were two: an assignment, a transfer or a close (not HOT: they
--   change these columns) inserts one entry, not two.
-- - messages_sender_agent_idx (sender_agent_id) WHERE sender_agent_id IS NOT NULL becomes
--   (sender_agent_id, conversation_id) with the same predicate: the conversations an agent
--   wrote in come from an index-only scan. Customers' and the bot's messages (no
--   sender_agent_id) are still not in it: a customer's post inserts nothing more.
CREATE INDEX conversations_agent_idx ON conversations (assigned_agent_id, status) INCLUDE (id)
    WHERE assigned_agent_id IS NOT NULL;
DROP INDEX conversations_agent_active_idx;

CREATE INDEX messages_sender_agent_conversation_idx ON messages (sender_agent_id, conversation_id)
    WHERE sender_agent_id IS NOT NULL;
DROP INDEX messages_sender_agent_idx;

-- A bot message is found from its text by hashtextextended(content, 0) (8 bytes, Postgres's own
-- text hash: ~0.1 us a row) instead of md5(content)::uuid (029_post_write_path: md5, its hex text
-- and uuid_in, ~3 us a row on the dev machine): every customer post whose bot replies computes
-- it once, for this index. q= matches the bot_texts found by words to their messages by the hash
-- and then by the text itself (chat_search_conversation_ids: a collision never matches another
-- text). bot_texts keeps its md5 key.
CREATE INDEX messages_bot_text_hash_idx ON messages (hashtextextended(content, 0)) WHERE sender_type = 'bot';
DROP INDEX messages_bot_text_idx;
-- (CREATE INDEX on messages holds off writes to it while it reads the table, as 029 did:
-- 1.3 s for 1.4 million messages on the dev machine.)
