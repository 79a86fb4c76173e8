-- 008_unread_counters: each conversation counts its unread messages per side, so the
-- conversation JSON no longer counts them over all its messages on every write.
-- customer_unread: agent, bot and system messages the customer has not read;
-- agent_unread: customer messages no agent has read. chat_append (functions/40_messages)
-- adds to them, chat_customer_read and chat_agent_read subtract what they mark.
ALTER TABLE conversations
    ADD COLUMN IF NOT EXISTS customer_unread int NOT NULL DEFAULT 0 CHECK (customer_unread >= 0),
    ADD COLUMN IF NOT EXISTS agent_unread    int NOT NULL DEFAULT 0 CHECK (agent_unread >= 0);

UPDATE conversations c
   SET customer_unread = u.customer_unread, agent_unread = u.agent_unread
  FROM (SELECT conversation_id,
               count(*) FILTER (WHERE sender_type <> 'customer')::int AS customer_unread,
               count(*) FILTER (WHERE sender_type = 'customer')::int  AS agent_unread
          FROM messages WHERE read_at IS NULL
         GROUP BY conversation_id) u
 WHERE u.conversation_id = c.id;
