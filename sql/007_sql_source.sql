-- 007_sql_source: the functions moved out of the migrations into sql/functions/ (source,
-- re-applied by every migrate); this drops the ones that went away in the move. A
-- function's removal is always a schema migration like this one: function files only
-- create or replace.

-- Unused: nothing called it.
DROP FUNCTION IF EXISTS chat_agent_by_id(uuid);
-- Replaced by chat_session_conv (30_session), which also raises the 404 its callers
-- each raised.
DROP FUNCTION IF EXISTS chat_session_conversation(text, bool);
