-- functions/80_agent_admin: the admin API for agents (list, create, update, soft delete).
-- Writes that can change who holds chats take 50_assignment's lock (see its proof).
-- The API's admin works on one site (p_site, their token's): they see and change only
-- the agents granted that site, and grant or take away only sites they are granted
-- themselves. chatctl, the operator, passes NULL: every site.

-- Whether the agent is one an admin of p_site manages (NULL: the operator, all of them).
CREATE OR REPLACE FUNCTION chat_admin_sees_agent(a agents, p_site text) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT p_site IS NULL OR chat_agent_on_site(a, p_site)
$$;

-- CH403 unless the acting admin (p_actor; NULL: the operator) is granted every site of
-- p_sites: an admin grants or takes away only sites they are granted themselves.
CREATE OR REPLACE FUNCTION chat_admin_check_grants(p_actor uuid, p_sites text[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    actor agents;
BEGIN
    IF p_actor IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO actor FROM agents WHERE id = p_actor;
    IF EXISTS (SELECT 1 FROM unnest(p_sites) s WHERE NOT chat_agent_on_site(actor, s)) THEN
        RAISE EXCEPTION 'you may grant or take away only the sites you are granted'
            USING ERRCODE = 'CH403';
    END IF;
END
$$;

-- The sites of POST /admin/agents' "sites" (a jsonb array of names core validated),
-- deduplicated and sorted, once chat_admin_check_grants allows them.
CREATE OR REPLACE FUNCTION chat_admin_new_sites(p_sites jsonb, p_actor uuid) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    sites text[] := ARRAY(SELECT DISTINCT jsonb_array_elements_text(p_sites) ORDER BY 1);
BEGIN
    PERFORM chat_admin_check_grants(p_actor, sites);
    RETURN sites;
END
$$;

-- GET /admin/agents: {"agents": [Agent (+ deleted_at)]} by username.
CREATE OR REPLACE FUNCTION chat_admin_agents(p_with_deleted bool, p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('agents', coalesce(jsonb_agg(
               chat_agent_json(a) || jsonb_build_object('deleted_at', chat_ts(a.deleted_at))
               ORDER BY lower(a.username)), '[]'::jsonb))
      FROM agents a
     WHERE (p_with_deleted OR a.deleted_at IS NULL)
       AND (p_site IS NULL OR a.sites @> ARRAY[p_site])
$$;

-- POST /admin/agents (the hash is made by core off the event loop), granted p_sites
-- (the body's "sites" through chat_admin_new_sites, else the admin's site; chatctl's
-- --site). 23505 -> 409.
CREATE OR REPLACE FUNCTION chat_admin_agent_create(p_username text, p_display_name text,
    p_password_hash text, p_role text, p_max_active_chats int, p_sites text[])
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    INSERT INTO agents (username, display_name, password_hash, role, max_active_chats, sites)
    VALUES (p_username, p_display_name, p_password_hash, p_role, p_max_active_chats, p_sites)
    RETURNING * INTO a;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- PATCH /admin/agents/{id}: patch may hold display_name, role, max_active_chats, sites
-- (validated by core); a new password hash bumps token_version (revoking tokens).
-- Sites added or taken away must be sites the acting admin (p_actor) is granted (else
-- CH403); an agent not granted p_site is not found. Their password, role, name and
-- capacity hold on every site they are granted, so only an admin granted all of those
-- sites changes them (else CH403): an admin of one site who set the password or role of
-- an agent also granted another would log in there as them, or make them its admin. The
-- chats they hold on a site taken away go back to its queue, and they leave its
-- departments; a raised capacity or a new site is offered to the queue at once.
-- {"agent", "assigned", "requeued"}
CREATE OR REPLACE FUNCTION chat_admin_agent_update(p_id uuid, p_patch jsonb,
    p_password_hash text, p_site text, p_actor uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    new_sites text[];
    old_sites text[];
    assigned jsonb := '[]'::jsonb;
    requeued jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    SELECT * INTO a FROM agents WHERE id = p_id AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND OR NOT chat_admin_sees_agent(a, p_site) THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    IF (p_password_hash IS NOT NULL OR p_patch ?| ARRAY['display_name', 'role', 'max_active_chats'])
       AND p_actor IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM agents actor WHERE actor.id = p_actor AND actor.sites @> a.sites) THEN
        RAISE EXCEPTION 'this agent also works on sites you are not granted: only an admin granted all of them changes their password, role, name or capacity'
            USING ERRCODE = 'CH403';
    END IF;
    new_sites := a.sites;
    old_sites := a.sites;
    IF p_patch ? 'sites' THEN
        new_sites := ARRAY(SELECT DISTINCT jsonb_array_elements_text(p_patch->'sites') ORDER BY 1);
        PERFORM chat_admin_check_grants(p_actor, ARRAY(
            (SELECT unnest(new_sites) EXCEPT SELECT unnest(a.sites))
            UNION
            (SELECT unnest(a.sites) EXCEPT SELECT unnest(new_sites))));
    END IF;
    UPDATE agents SET
           display_name = coalesce(p_patch->>'display_name', display_name),
           role = coalesce(p_patch->>'role', role),
           max_active_chats = coalesce((p_patch->>'max_active_chats')::int, max_active_chats),
           sites = new_sites,
           password_hash = coalesce(p_password_hash, password_hash),
           token_version = token_version + CASE WHEN p_password_hash IS NULL THEN 0 ELSE 1 END,
           updated_at = clock_timestamp()
     WHERE id = p_id
    RETURNING * INTO a;
    -- the chats they hold on a site taken away go back to that site's queue, and they
    -- leave its departments
    requeued := chat_requeue_agents_on(ARRAY[a.id],
        ARRAY(SELECT unnest(old_sites) EXCEPT SELECT unnest(new_sites)));
    DELETE FROM department_agents m USING departments d
     WHERE m.agent_id = a.id AND d.id = m.department_id AND NOT (d.site = ANY (new_sites));
    IF (p_patch ? 'max_active_chats' OR p_patch ? 'sites') AND a.presence = 'online'
       OR jsonb_array_length(requeued) > 0 THEN
        assigned := chat_assign_queue();
    END IF;
    SELECT * INTO a FROM agents WHERE id = p_id;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'assigned', assigned,
                              'requeued', requeued);
END
$$;

-- DELETE /admin/agents/{id}: soft delete; the agent can't log in (token_version bumped,
-- deleted_at), goes offline, leaves their departments, their open chats go back to the
-- front of the queue and the queue is retried. History keeps their name. Only an agent granted p_site (NULL:
-- any, chatctl); an agent also granted other sites only leaves p_site (their chats there
-- back to its queue) and keeps the others. {"agent", "requeued", "assigned"}
CREATE OR REPLACE FUNCTION chat_admin_agent_delete(p_id uuid, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    requeued jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    SELECT * INTO a FROM agents
     WHERE id = p_id AND deleted_at IS NULL AND chat_admin_sees_agent(agents, p_site)
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    IF p_site IS NOT NULL AND a.sites <> ARRAY[p_site] THEN
        -- granted other sites too: they leave this site only (its chats back to its
        -- queue), and keep working on the others
        UPDATE agents SET sites = array_remove(sites, p_site), updated_at = clock_timestamp()
         WHERE id = a.id
        RETURNING * INTO a;
        requeued := chat_requeue_agents_on(ARRAY[a.id], ARRAY[p_site]);
        DELETE FROM department_agents m USING departments d
         WHERE m.agent_id = a.id AND d.id = m.department_id AND d.site = p_site;
    ELSE
        UPDATE agents SET deleted_at = clock_timestamp(), presence = 'offline',
               token_version = token_version + 1, updated_at = clock_timestamp()
         WHERE id = a.id
        RETURNING * INTO a;
        requeued := chat_requeue_agents(ARRAY[a.id]);
        DELETE FROM department_agents WHERE agent_id = a.id;
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'requeued', requeued,
                              'assigned', chat_assign_queue());
END
$$;
