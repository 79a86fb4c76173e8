-- 028_drop_agent_conv_json: chat_agent_conv_json is gone from sql/functions/10_common.sql.
--
-- Nothing calls it since the agent's writes answer chat_conversation_json(c, 'agent') of the row
-- they hold; a function removed from the re-applied source stays in a database migrated before,
-- so it is dropped here (IF EXISTS: a fresh database never had it).
DROP FUNCTION IF EXISTS chat_agent_conv_json(uuid);
