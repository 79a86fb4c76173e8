-- 023_erasures_webhook_cap: leftovers of issue 14.
--
-- The erasures the workers poll also name the deleted conversation, so every worker of every
-- node closes its sockets (README "Retention and erasure": 4410). By conversation, not by
-- session: retention deletes a session's old closed conversation while a newer one of the
-- same session may be open, with its socket, and must stay so. Rows written before this
-- migration name none (NULL): their sockets are not closed, only their cached copies
-- dropped, as before.
ALTER TABLE erasures ADD COLUMN conversation_id uuid;
COMMENT ON TABLE erasures IS
    'Conversations (and their sessions) deleted in the last hour: nginx drops their cached copies and closes their sockets.';

-- chat_admin_webhook_create takes the most webhooks a site may have (p_max, limits.h
-- kWebhooksPerSite); sql/functions/97_webhooks.sql creates the new signature.
DROP FUNCTION IF EXISTS chat_admin_webhook_create(jsonb, text);

-- POST /agent/totp/enable and /disable reserve their attempt like a login before the code is
-- checked (chat_agent_totp_begin, 72_totp.sql), which also reads what chat_agent_totp_state did.
DROP FUNCTION IF EXISTS chat_agent_totp_state(uuid);
