-- 026_event_unread: the customer post batch answers the agent side's unread count too.
--
-- chat_customer_post_batch's result gains c_agent_unread (sql/functions/40_messages.sql creates
-- the new signature; CREATE OR REPLACE cannot change a function's result type): the events of a
-- post carry each side's own unread_count (API.md "Conversation": for the viewer).
DROP FUNCTION IF EXISTS chat_customer_post_batch(text[], uuid[], text[], text[], text[], jsonb[]);
