-- functions/20_access: who may see and who may write a conversation, for the agent
-- API (REST and WebSocket): each rule once, raising the API's errors (CH403 forbidden,
-- CH404 not_found), so every write asks the same guard.

-- Whether an agent "handled" a conversation: it is (or was last) assigned to them,
-- or they wrote in it (a chat they transferred away).
CREATE OR REPLACE FUNCTION chat_agent_handled(c conversations, p_agent uuid) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT c.assigned_agent_id = p_agent
        OR EXISTS (SELECT 1 FROM messages m
                    WHERE m.conversation_id = c.id AND m.sender_agent_id = p_agent)
$$;

-- Whether an agent serves the queue a conversation waits in: the default queue (no
-- department) is everyone's, a department's queue only its members' (API.md "Departments
-- and routing").
CREATE OR REPLACE FUNCTION chat_agent_serves(c conversations, p_agent uuid) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT c.department_id IS NULL
        OR EXISTS (SELECT 1 FROM department_agents m
                    WHERE m.department_id = c.department_id AND m.agent_id = p_agent)
$$;

-- What an agent may see, on the site of the request (p_site, their token's): only that
-- site's conversations; there, role agent sees their own chats, the queues they serve
-- (chat_agent_serves: the default queue and their departments') and closed chats they
-- handled; supervisor and admin see everything. Anything else is a 404 -- so an agent's
-- claim of another department's queued chat is a 404 too, as the queue view hides it.
-- events::visible_to_agent (core/src/events.cpp) is the same rule for realtime events.
CREATE OR REPLACE FUNCTION chat_agent_can_see(c conversations, p_agent uuid, p_role text,
    p_site text)
RETURNS bool LANGUAGE sql STABLE AS $$
    SELECT c.site = p_site AND (
           p_role IN ('supervisor', 'admin')
        OR (c.status = 'agent' AND CASE WHEN c.assigned_agent_id IS NULL THEN chat_agent_serves(c, p_agent)
                                        ELSE c.assigned_agent_id = p_agent END)
        OR (c.status = 'closed' AND chat_agent_handled(c, p_agent)))
$$;

-- The assigned agent, or a supervisor/admin. (Posting also needs status agent; that is
-- the lifecycle's rule, checked by each write.)
CREATE OR REPLACE FUNCTION chat_agent_can_write(c conversations, p_agent uuid, p_role text)
RETURNS bool LANGUAGE sql STABLE AS $$
    SELECT p_role IN ('supervisor', 'admin') OR c.assigned_agent_id IS NOT DISTINCT FROM p_agent
$$;

-- The write guard every agent write asks (post, read receipt, transfer, close): CH403
-- unless chat_agent_can_write.
CREATE OR REPLACE FUNCTION chat_agent_require_write(c conversations, p_agent uuid, p_role text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT chat_agent_can_write(c, p_agent, p_role) THEN
        RAISE EXCEPTION 'not your conversation' USING ERRCODE = 'CH403';
    END IF;
END
$$;

-- The conversation row locked for a write, or CH404 when missing or invisible to the
-- caller (never revealing that someone else's conversation exists).
CREATE OR REPLACE FUNCTION chat_agent_lock_conv(p_conv uuid, p_agent uuid, p_role text,
    p_site text)
RETURNS conversations LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
BEGIN
    SELECT * INTO c FROM conversations WHERE id = p_conv FOR UPDATE;
    IF NOT FOUND OR NOT chat_agent_can_see(c, p_agent, p_role, p_site) THEN
        RAISE EXCEPTION 'conversation not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN c;
END
$$;

-- The acting agent, or CH403 when deleted meanwhile (its token is revoked anyway).
CREATE OR REPLACE FUNCTION chat_agent_actor(p_agent uuid) RETURNS agents
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    SELECT * INTO a FROM agents WHERE id = p_agent;
    IF NOT FOUND OR a.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'agent is disabled' USING ERRCODE = 'CH403';
    END IF;
    RETURN a;
END
$$;
