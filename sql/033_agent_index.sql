-- 033_agent_index: an agent's own closed and all views read what the agent handled through
-- indexes, not through every conversation (the index mend of wave 13).
--
-- An agent's closed and all views (chat_agent_conversations, sql/functions/60_agent_views.sql)
-- start from the conversations assigned to the agent, of any status, and those the agent wrote
-- in. Only the agent's active ones (status 'agent') had an index, so the assigned ones of any
-- status were a sequential scan of conversations (~400 ms for an agent with 10 000 of them in
-- a large table), and the messages the agent wrote were a bitmap heap scan of messages, one
-- heap page a message.
--
-- - conversations_agent_idx (assigned_agent_id, status) WHERE assigned_agent_id IS NOT NULL
--   replaces conversations_agent_active_idx ((assigned_agent_id) WHERE status = 'agent'): the
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
