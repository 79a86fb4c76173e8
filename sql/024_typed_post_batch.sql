-- 024_typed_post_batch: the customer post batch answers typed columns (issue 11).
--
-- chat_customer_post_batch's result gains the conversation's and its messages' columns
-- (sql/functions/40_messages.sql creates the new signature; CREATE OR REPLACE cannot change
-- a function's result type).
DROP FUNCTION IF EXISTS chat_customer_post_batch(text[], uuid[], text[], text[], text[], jsonb[]);
