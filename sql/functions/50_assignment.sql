-- functions/50_assignment: who gets which queued chat (assignment, escalate, claim,
-- transfer, close, requeue, the grace sweep) and the proof that it is correct under
-- concurrency.
--
-- Concurrency (why it is correct on any number of workers and nodes):
-- every write that can ADD an active chat to an agent (assignment, claim, transfer)
-- first takes the transaction-level advisory lock chat_assign_lock_key(), so such
-- decisions are serialized cluster-wide; capacity checks made under that lock can
-- only be invalidated by writes that free slots (close, requeue), never by ones that
-- fill them. Each statement in these (volatile, READ COMMITTED) functions takes a fresh
-- snapshot, so after acquiring the lock a function sees every earlier assignment.
-- Lock order is always: advisory lock, then conversation rows, then agent rows (then
-- department_agents rows, round_robin's clock, written only under the lock), so
-- the lock graph has no cycles. Departments do not change the argument: capacity is
-- counted per agent over all their chats (chat_agent_active, every site and department),
-- and every route into a department -- assignment by any strategy, claim, transfer --
-- adds a chat only under the same one lock, so "never two agents" and "never over
-- capacity" hold per agent across all departments and sites. Which queue a chat waits in
-- (department_id) is written under the lock too: by escalate, and by an agent's PATCH
-- (chat_agent_conversation_update), which takes the lock before the conversation row when
-- the body names a department, so a chat moved between queues is never assigned twice. Under the lock, SKIP LOCKED
-- would only skip a queued conversation that a customer is momentarily writing to and hand
-- the agent a younger one, breaking priority-then-oldest order; so each queue head tried is
-- taken with a plain FOR UPDATE (several heads may be locked by one call: customer post
-- batches wait at most 50 ms for a row, see 40_messages, so they never close a cycle).
-- The sweep additionally uses pg_try_advisory_xact_lock(chat_sweep_lock_key()) so only
-- one node at a time runs it.

-- Arbitrary but fixed keys of the advisory locks (shared by every node).
CREATE OR REPLACE FUNCTION chat_assign_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120031::bigint $$;

CREATE OR REPLACE FUNCTION chat_sweep_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120032::bigint $$;

-- Gives one conversation (row locked by the caller, under the assign lock) to an
-- agent: the "<name> joined the chat" system message, version bump, idle clock.
-- A conversation of a department also moves the agent's round_robin clock there.
CREATE OR REPLACE FUNCTION chat_assign_to(p_conv uuid, a agents) RETURNS messages
LANGUAGE plpgsql AS $$
DECLARE
    dept uuid;
BEGIN
    UPDATE conversations
       SET assigned_agent_id = a.id, updated_at = clock_timestamp(), version = version + 1
     WHERE id = p_conv
    RETURNING department_id INTO dept;
    PERFORM chat_minute_touch(p_conv);
    UPDATE agents SET last_assigned_at = clock_timestamp() WHERE id = a.id;
    IF dept IS NOT NULL THEN
        UPDATE department_agents SET last_assigned_at = clock_timestamp()
         WHERE department_id = dept AND agent_id = a.id;
    END IF;
    RETURN chat_append(p_conv, 'system', NULL, 'event', a.display_name || ' joined the chat',
                       jsonb_build_object('event', 'assigned', 'agent_id', a.id), NULL);
END
$$;

-- The agent a queued conversation (row locked by the caller, under the assign lock) goes
-- to now, row locked, or NULL when nobody may take it. Only online, live agents granted
-- the site and below capacity are free. The default queue (no department): the free
-- agent of the site with the fewest active chats (ties: idle longest, then id). A
-- department's conversation: only its free members, and only inside its hours; by its
-- strategy: least_loaded (as the default queue), round_robin (the member assigned least
-- recently in this department, department_agents.last_assigned_at, never first), sticky
-- (the agent who last served this customer, if a free member; else least_loaded).
CREATE OR REPLACE FUNCTION chat_assign_pick(c conversations) RETURNS agents
LANGUAGE plpgsql AS $$
DECLARE
    d departments;
    a agents;
    prev uuid;
BEGIN
    IF c.department_id IS NULL THEN
        SELECT * INTO a FROM agents g
         WHERE g.presence = 'online' AND g.deleted_at IS NULL
           AND chat_agent_on_site(g, c.site)
           AND chat_agent_active(g.id) < g.max_active_chats
         ORDER BY chat_agent_active(g.id), g.last_assigned_at NULLS FIRST, g.id
         LIMIT 1
           FOR UPDATE;
        RETURN a;    -- all NULL when not found
    END IF;

    SELECT * INTO d FROM departments WHERE id = c.department_id;
    IF NOT FOUND OR NOT chat_hours_open(d.hours, clock_timestamp()) THEN
        RETURN NULL;
    END IF;

    IF d.strategy = 'sticky' AND c.customer_id IS NOT NULL THEN
        -- the customer's few conversations (conversations_customer_idx), sorted here: no index
        -- holds updated_at (030_hot_post_update)
        SELECT o.assigned_agent_id INTO prev FROM conversations o
         WHERE o.customer_id = c.customer_id AND o.assigned_agent_id IS NOT NULL AND o.id <> c.id
         ORDER BY o.updated_at DESC
         LIMIT 1;
        IF prev IS NOT NULL THEN
            SELECT g.* INTO a FROM agents g JOIN department_agents m ON m.agent_id = g.id
             WHERE g.id = prev AND m.department_id = d.id
               AND g.presence = 'online' AND g.deleted_at IS NULL
               AND chat_agent_on_site(g, c.site)
               AND chat_agent_active(g.id) < g.max_active_chats
               FOR UPDATE OF g;
            IF FOUND THEN
                RETURN a;
            END IF;
        END IF;
    END IF;

    IF d.strategy = 'round_robin' THEN
        SELECT g.* INTO a FROM agents g JOIN department_agents m ON m.agent_id = g.id
         WHERE m.department_id = d.id
           AND g.presence = 'online' AND g.deleted_at IS NULL
           AND chat_agent_on_site(g, c.site)
           AND chat_agent_active(g.id) < g.max_active_chats
         ORDER BY m.last_assigned_at NULLS FIRST, g.id
         LIMIT 1
           FOR UPDATE OF g;
    ELSE
        SELECT g.* INTO a FROM agents g JOIN department_agents m ON m.agent_id = g.id
         WHERE m.department_id = d.id
           AND g.presence = 'online' AND g.deleted_at IS NULL
           AND chat_agent_on_site(g, c.site)
           AND chat_agent_active(g.id) < g.max_active_chats
         ORDER BY chat_agent_active(g.id), g.last_assigned_at NULLS FIRST, g.id
         LIMIT 1
           FOR UPDATE OF g;
    END IF;
    RETURN a;
END
$$;

-- Hands queued conversations to free agents until no queue has both a conversation and
-- someone free to serve it. Returns [{conversation_id, agent_id}] of what it assigned.
-- Each site has its own queues -- the default queue and one per department -- served only
-- by agents granted the site (chat_agent_on_site): one site at a time, so a site nobody
-- can serve never holds up another's (capacity is per agent, across sites and
-- departments, all under the one lock). Within a site, the queue heads are tried in
-- serving order (chat_priority_rank, as conversations_dept_queue_idx has it, then queued_at,
-- then id) and the first one that
-- chat_assign_pick finds an agent for is assigned; then the heads are read again. A
-- queue whose head nobody may take is skipped this round (every conversation of a queue
-- has the same possible agents, so its head stands for it); a default queue nobody may
-- take means nobody on the site is free, which ends the site.
CREATE OR REPLACE FUNCTION chat_assign_queue() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s text;
    h record;
    c conversations;
    a agents;
    progress bool;
    out jsonb := '[]'::jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    FOR s IN SELECT DISTINCT site FROM conversations
              WHERE status = 'agent' AND assigned_agent_id IS NULL
              ORDER BY site
    LOOP
        <<site>>
        LOOP
            progress := false;
            FOR h IN
                SELECT q.id FROM (
                    (SELECT id, chat_priority_rank(priority) AS priority_rank, queued_at FROM conversations
                      WHERE site = s AND department_id IS NULL
                        AND status = 'agent' AND assigned_agent_id IS NULL
                      ORDER BY priority_rank, queued_at, id
                      LIMIT 1)
                    UNION ALL
                    SELECT k.* FROM departments d CROSS JOIN LATERAL (
                        SELECT id, chat_priority_rank(priority) AS priority_rank, queued_at FROM conversations
                         WHERE site = s AND department_id = d.id
                           AND status = 'agent' AND assigned_agent_id IS NULL
                         ORDER BY priority_rank, queued_at, id
                         LIMIT 1) k
                     WHERE d.site = s) q
                 ORDER BY q.priority_rank, q.queued_at, q.id
            LOOP
                SELECT * INTO c FROM conversations WHERE id = h.id FOR UPDATE;
                a := chat_assign_pick(c);
                IF a.id IS NULL THEN
                    EXIT site WHEN c.department_id IS NULL;    -- nobody on the site is free
                    CONTINUE;
                END IF;
                PERFORM chat_assign_to(c.id, a);
                out := out || jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                                   'agent_id', a.id));
                progress := true;
                EXIT;    -- the heads changed: read them again
            END LOOP;
            EXIT WHEN NOT progress;
        END LOOP;
    END LOOP;
    RETURN out;
END
$$;

-- Puts the open chats of some agents back at the FRONT of the queue (before everything
-- queued now, in their original queue order, whoever held them) with a system message
-- each. The caller holds the assign lock. Returns the conversation ids.
CREATE OR REPLACE FUNCTION chat_requeue_agents(p_agents uuid[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN chat_requeue_agents_on(p_agents, NULL);
END
$$;

-- The same for their chats on some sites only (p_sites; NULL: every site): a site taken
-- away from an agent gives that site's chats back to its queue.
CREATE OR REPLACE FUNCTION chat_requeue_agents_on(p_agents uuid[], p_sites text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    base timestamptz;
    r record;
    out jsonb := '[]'::jsonb;
BEGIN
    SELECT coalesce(min(queued_at), clock_timestamp()) INTO base FROM conversations
     WHERE status = 'agent' AND assigned_agent_id IS NULL;

    -- lock first: FOR UPDATE cannot be combined with the window function below
    PERFORM 1 FROM conversations
     WHERE status = 'agent' AND assigned_agent_id = ANY (p_agents)
       AND (p_sites IS NULL OR site = ANY (p_sites))
       FOR UPDATE;

    -- k = 1 for the youngest, so the oldest ends up first in the queue
    FOR r IN
        SELECT c.id, g.id AS agent_id, g.display_name,
               row_number() OVER (ORDER BY c.queued_at DESC, c.id DESC) AS k
          FROM conversations c JOIN agents g ON g.id = c.assigned_agent_id
         WHERE c.status = 'agent' AND c.assigned_agent_id = ANY (p_agents)
           AND (p_sites IS NULL OR c.site = ANY (p_sites))
         ORDER BY c.queued_at, c.id
    LOOP
        UPDATE conversations
           SET assigned_agent_id = NULL,
               queued_at = base - r.k * interval '1 millisecond',
               updated_at = clock_timestamp(), version = version + 1
         WHERE id = r.id;
        PERFORM chat_minute_touch(r.id);
        PERFORM chat_append(r.id, 'system', NULL, 'event',
                            r.display_name || ' left; you are back in the queue',
                            jsonb_build_object('event', 'requeued', 'agent_id', r.agent_id),
                            NULL);
        out := out || to_jsonb(r.id);
    END LOOP;
    RETURN out;
END
$$;

-- POST /escalate {"department_id"?}: automated -> agent (once), into the department's
-- queue (p_department, which must be one of the conversation's site: else CH422 naming
-- department_id) or the default queue (NULL), then assignment.
-- When nobody could take the chat, one system message is added once: into a department
-- outside its hours or with no member online (chat_department_open), the conversation is
-- offline (kept as a record once it is served) and gets p_away_text; otherwise
-- p_queued_text. With a free agent the only new message is "<name> joined the chat".
-- Repeats change nothing (a department given again is checked, not applied); closed is
-- 409. Returns the messages this call added.
CREATE OR REPLACE FUNCTION chat_escalate(p_sid text, p_queued_text text, p_department uuid,
    p_away_text text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    d departments;
    before int;
    off bool := false;
    m messages;
    assigned jsonb := '[]'::jsonb;
BEGIN
    -- the assign lock first (lock order), so queued_at order is commit order too
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());

    c := chat_session_conv(p_sid, true);
    IF p_department IS NOT NULL THEN
        SELECT * INTO d FROM departments WHERE id = p_department AND site = c.site;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'department_id is not a department of this site' USING ERRCODE = 'CH422';
        END IF;
        off := NOT chat_department_open(d);
    END IF;
    IF c.status = 'closed' THEN
        RAISE EXCEPTION 'conversation is closed' USING ERRCODE = 'CH409';
    END IF;

    before := c.last_seq;
    IF c.status = 'automated' THEN
        UPDATE conversations
           SET status = 'agent', requested_agent_at = clock_timestamp(),
               queued_at = clock_timestamp(), updated_at = clock_timestamp(),
               department_id = d.id, offline = off,
               version = version + 1
         WHERE id = c.id;
        PERFORM chat_minute_touch(c.id);

        assigned := chat_assign_queue();

        SELECT * INTO c FROM conversations WHERE id = c.id;
        IF c.assigned_agent_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = c.id
                              AND sender_type = 'system'
                              AND metadata->>'event' IN ('queued', 'offline')) THEN
            IF off THEN
                m := chat_append(c.id, 'system', NULL, 'event', p_away_text,
                                 '{"event": "offline"}'::jsonb, NULL);
            ELSE
                m := chat_append(c.id, 'system', NULL, 'event', p_queued_text,
                                 '{"event": "queued"}'::jsonb, NULL);
            END IF;
        END IF;
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_messages_json(c.id, before, 1000),
        'assigned', assigned, 'unread', chat_unread_json(c));
END
$$;

-- POST .../claim: a queued chat to the caller if they are under capacity, else 409.
-- {"conversation", "messages": [joined], "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_claim(p_agent uuid, p_role text, p_conv uuid,
    p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    a agents;
    m messages;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);
    SELECT * INTO a FROM agents WHERE id = p_agent FOR UPDATE;
    IF NOT FOUND OR a.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'agent is disabled' USING ERRCODE = 'CH403';
    END IF;
    IF c.status <> 'agent' OR c.assigned_agent_id IS NOT NULL THEN
        RAISE EXCEPTION 'conversation is not in the queue' USING ERRCODE = 'CH409';
    END IF;
    IF chat_agent_active(a.id) >= a.max_active_chats THEN
        RAISE EXCEPTION 'you are at capacity' USING ERRCODE = 'CH409';
    END IF;

    m := chat_assign_to(c.id, a);
    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', jsonb_build_array(chat_message_json(m)),
        'assigned', jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                         'agent_id', a.id)),
        'unread', chat_unread_json(c));
END
$$;

-- POST .../transfer: by the assignee or a supervisor/admin, to an online, non-deleted
-- agent under capacity (else 409); "Transferred to <name>"; then the freed slot is
-- offered to the queue. {"conversation", "messages", "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_transfer(p_agent uuid, p_role text, p_conv uuid,
    p_target uuid, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    t agents;
    before int;
    assigned jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);
    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    PERFORM chat_agent_require_write(c, p_agent, p_role);

    SELECT * INTO t FROM agents WHERE id = p_target FOR UPDATE;
    IF NOT FOUND OR NOT chat_agent_on_site(t, c.site) THEN
        RAISE EXCEPTION 'target agent not found' USING ERRCODE = 'CH404';
    END IF;
    IF t.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'target agent is disabled' USING ERRCODE = 'CH409';
    END IF;
    IF t.presence <> 'online' THEN
        RAISE EXCEPTION 'target agent is not online' USING ERRCODE = 'CH409';
    END IF;
    IF c.assigned_agent_id = t.id THEN
        RAISE EXCEPTION 'conversation is already assigned to that agent' USING ERRCODE = 'CH409';
    END IF;
    IF chat_agent_active(t.id) >= t.max_active_chats THEN
        RAISE EXCEPTION 'target agent is at capacity' USING ERRCODE = 'CH409';
    END IF;

    before := c.last_seq;
    UPDATE conversations
       SET assigned_agent_id = t.id, updated_at = clock_timestamp(), version = version + 1
     WHERE id = c.id;
    PERFORM chat_minute_touch(c.id);
    UPDATE agents SET last_assigned_at = clock_timestamp() WHERE id = t.id;
    PERFORM chat_append(c.id, 'system', NULL, 'event', 'Transferred to ' || t.display_name,
                        jsonb_build_object('event', 'transferred', 'agent_id', t.id,
                                           'from_agent_id', c.assigned_agent_id,
                                           'by_agent_id', p_agent), NULL);
    assigned := chat_assign_queue();
    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', chat_messages_json(c.id, before, 1000),
        'assigned', jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                         'agent_id', t.id)) || assigned,
        'unread', chat_unread_json(c));
END
$$;

-- PATCH /agent/conversations/{id}: p_patch holds any of "priority", "tags" (normalised by
-- core: lowercase, deduplicated, bounded) and "department_id" (a department of the
-- conversation's site, else CH422 naming department_id; null: the default queue). By the
-- assignee or a supervisor/admin (another agent: 403), in any status. A department change of
-- a conversation in status agent requeues it there: an assigned one loses its agent with the
-- requeue's system message ("requeued"), keeping its place by age; then assignment runs. The
-- assign lock is taken first (lock order) whenever a department is named.
-- {"conversation", "messages": [added], "assigned", "session_id"} (session_id: the customer's
-- cached copy to drop, never sent to a client)
CREATE OR REPLACE FUNCTION chat_agent_conversation_update(p_agent uuid, p_role text, p_conv uuid,
    p_patch jsonb, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    d departments;
    moved bool;
    before int;
    leaving text;
    assigned jsonb := '[]'::jsonb;
BEGIN
    IF p_patch ? 'department_id' THEN
        PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    END IF;
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);
    PERFORM chat_agent_require_write(c, p_agent, p_role);
    IF jsonb_typeof(p_patch->'department_id') = 'string' THEN
        SELECT * INTO d FROM departments
         WHERE id = (p_patch->>'department_id')::uuid AND site = c.site;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'department_id is not a department of this site' USING ERRCODE = 'CH422';
        END IF;
    END IF;
    moved := p_patch ? 'department_id' AND d.id IS DISTINCT FROM c.department_id;

    before := c.last_seq;
    UPDATE conversations SET
           priority = coalesce(p_patch->>'priority', priority),
           tags = CASE WHEN p_patch ? 'tags'
                       THEN ARRAY(SELECT jsonb_array_elements_text(p_patch->'tags')) ELSE tags END,
           department_id = CASE WHEN moved THEN d.id ELSE department_id END,
           assigned_agent_id = CASE WHEN moved AND status = 'agent' THEN NULL ELSE assigned_agent_id END,
           updated_at = clock_timestamp(), version = version + 1
     WHERE id = c.id;
    PERFORM chat_minute_touch(c.id);

    IF moved AND c.status = 'agent' THEN
        IF c.assigned_agent_id IS NOT NULL THEN
            SELECT display_name INTO leaving FROM agents WHERE id = c.assigned_agent_id;
            PERFORM chat_append(c.id, 'system', NULL, 'event',
                                coalesce(leaving || ' left; ', '')
                                    || 'you are back in the queue'
                                    || coalesce(' of ' || d.name, ''),
                                jsonb_build_object('event', 'requeued', 'agent_id', c.assigned_agent_id,
                                                   'department_id', d.id),
                                NULL);
        END IF;
        assigned := chat_assign_queue();
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', chat_messages_json(c.id, before, 1000),
        'assigned', assigned,
        'session_id', c.session_id,
        'unread', chat_unread_json(c));
END
$$;

-- POST .../close: only from status agent (409 otherwise), by the assignee or a
-- supervisor/admin (another agent: 403); then the freed slot goes to the queue.
-- {"conversation", "messages": [system message], "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_close(p_agent uuid, p_role text, p_conv uuid,
    p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    a agents;
    m messages;
    assigned jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    a := chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);
    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    PERFORM chat_agent_require_write(c, p_agent, p_role);

    m := chat_append(c.id, 'system', NULL, 'event',
                     coalesce(a.display_name || ' closed the chat', 'The chat was closed'),
                     jsonb_build_object('event', 'closed', 'agent_id', a.id), NULL);
    UPDATE conversations
       SET status = 'closed', closed_at = clock_timestamp(), updated_at = clock_timestamp(),
           version = version + 1
     WHERE id = c.id;
    PERFORM chat_minute_touch(c.id);
    assigned := chat_assign_queue();
    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', jsonb_build_array(chat_message_json(m)),
        'assigned', assigned, 'unread', chat_unread_json(c));
END
$$;

-- The background sweep (every node runs it on a timer; one at a time gets through):
-- agents without a heartbeat for grace seconds that are online/away, or still hold
-- open chats (e.g. after logout), go offline and their open chats go back to the front
-- of the queue; then the queue is retried.
-- {"ran": bool, "offline": [ids], "requeued": [ids], "assigned": [...]}
CREATE OR REPLACE FUNCTION chat_sweep(p_grace_s double precision) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    offline jsonb := '[]'::jsonb;
    gone uuid[] := '{}';
BEGIN
    IF NOT pg_try_advisory_xact_lock(chat_sweep_lock_key()) THEN
        RETURN jsonb_build_object('ran', false, 'offline', '[]'::jsonb,
                                  'requeued', '[]'::jsonb, 'assigned', '[]'::jsonb);
    END IF;
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());

    FOR a IN
        SELECT * FROM agents
         WHERE deleted_at IS NULL
           AND (presence <> 'offline' OR chat_agent_active(id) > 0)
           AND (last_seen_at IS NULL
                OR last_seen_at < clock_timestamp() - make_interval(secs => p_grace_s))
         ORDER BY id
           FOR UPDATE
    LOOP
        IF a.presence <> 'offline' THEN
            UPDATE agents SET presence = 'offline', updated_at = clock_timestamp()
             WHERE id = a.id;
            offline := offline || to_jsonb(a.id);
        END IF;
        gone := gone || a.id;
    END LOOP;

    RETURN jsonb_build_object('ran', true, 'offline', offline,
                              'requeued', chat_requeue_agents(gone),
                              'assigned', chat_assign_queue());
END
$$;
