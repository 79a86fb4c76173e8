-- functions/80_agent_admin: the admin API for agents (list, create, update, soft delete).
-- Writes that can change who holds chats take 50_assignment's lock (see its proof).

-- GET /admin/agents: {"agents": [Agent (+ deleted_at)]} by username.
CREATE OR REPLACE FUNCTION chat_admin_agents(p_with_deleted bool) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('agents', coalesce(jsonb_agg(
               chat_agent_json(a) || jsonb_build_object('deleted_at', chat_ts(a.deleted_at))
               ORDER BY lower(a.username)), '[]'::jsonb))
      FROM agents a
     WHERE p_with_deleted OR a.deleted_at IS NULL
$$;

-- POST /admin/agents (the hash is made by core off the event loop). 23505 -> 409.
CREATE OR REPLACE FUNCTION chat_admin_agent_create(p_username text, p_display_name text,
    p_password_hash text, p_role text, p_max_active_chats int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    INSERT INTO agents (username, display_name, password_hash, role, max_active_chats)
    VALUES (p_username, p_display_name, p_password_hash, p_role, p_max_active_chats)
    RETURNING * INTO a;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- PATCH /admin/agents/{id}: patch may hold display_name, role, max_active_chats
-- (validated by core); a new password hash bumps token_version (revoking tokens).
-- A raised capacity is offered to the queue at once. {"agent", "assigned"}
CREATE OR REPLACE FUNCTION chat_admin_agent_update(p_id uuid, p_patch jsonb,
    p_password_hash text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    assigned jsonb := '[]'::jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    UPDATE agents SET
           display_name = coalesce(p_patch->>'display_name', display_name),
           role = coalesce(p_patch->>'role', role),
           max_active_chats = coalesce((p_patch->>'max_active_chats')::int, max_active_chats),
           password_hash = coalesce(p_password_hash, password_hash),
           token_version = token_version + CASE WHEN p_password_hash IS NULL THEN 0 ELSE 1 END,
           updated_at = clock_timestamp()
     WHERE id = p_id AND deleted_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    IF p_patch ? 'max_active_chats' AND a.presence = 'online' THEN
        assigned := chat_assign_queue();
    END IF;
    SELECT * INTO a FROM agents WHERE id = p_id;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'assigned', assigned);
END
$$;

-- DELETE /admin/agents/{id}: soft delete; the agent can't log in (token_version bumped,
-- deleted_at), goes offline, their open chats go back to the front of the queue and
-- the queue is retried. History keeps their name. {"agent", "requeued", "assigned"}
CREATE OR REPLACE FUNCTION chat_admin_agent_delete(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    requeued jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    UPDATE agents SET deleted_at = clock_timestamp(), presence = 'offline',
           token_version = token_version + 1, updated_at = clock_timestamp()
     WHERE id = p_id AND deleted_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    requeued := chat_requeue_agents(ARRAY[a.id]);
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'requeued', requeued,
                              'assigned', chat_assign_queue());
END
$$;
