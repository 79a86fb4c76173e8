-- 006_ws_security: who may write into a conversation, in one place, for the agent's
-- read receipts (REST and WebSocket) and typing frames (API.md "Events": "only for
-- conversations the agent may write to").

-- The assigned agent, or a supervisor/admin. (Posting also needs status agent; that is
-- the lifecycle's rule, checked by each write.)
CREATE OR REPLACE FUNCTION chat_agent_can_write(c conversations, p_agent uuid, p_role text)
RETURNS bool LANGUAGE sql STABLE AS $$
    SELECT p_role IN ('supervisor', 'admin') OR c.assigned_agent_id IS NOT DISTINCT FROM p_agent
$$;

-- POST .../read: the customer's messages up to a seq are read. A conversation the agent
-- cannot see is 404 (as before); one they see but may not write to (the queue, a chat
-- they handled before it was transferred) is 403. {"conversation", "marked"}
CREATE OR REPLACE FUNCTION chat_agent_read(p_agent uuid, p_role text, p_conv uuid,
    p_up_to int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n int;
BEGIN
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);
    IF NOT chat_agent_can_write(c, p_agent, p_role) THEN
        RAISE EXCEPTION 'not your conversation' USING ERRCODE = 'CH403';
    END IF;
    UPDATE messages SET read_at = clock_timestamp()
     WHERE conversation_id = c.id AND seq <= p_up_to
       AND sender_type = 'customer' AND read_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE conversations SET version = version + 1,
               agent_last_read_seq = greatest(agent_last_read_seq, p_up_to)
         WHERE id = c.id
        RETURNING * INTO c;
    END IF;
    RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'agent'),
                              'marked', n);
END
$$;
