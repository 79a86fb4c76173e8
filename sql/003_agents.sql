-- 003_agents: the agent side of API.md (login support, presence, assignment, the
-- agent views and lifecycle writes, the grace sweep, the admin API) as SQL functions,
-- each one transaction and one round trip, returning the API's JSON.
--
-- Errors use the SQLSTATEs the Postgres client maps to API codes: CH403 forbidden,
-- CH404 not_found, CH409 invalid_state, CH422 validation; 23505 becomes conflict.
--
-- Concurrency (why it is correct on any number of workers and nodes):
-- every write that can ADD an active chat to an agent (assignment, claim, transfer)
-- first takes the transaction-level advisory lock chat_assign_lock_key(), so such
-- decisions are serialized cluster-wide; capacity checks made under that lock can
-- only be invalidated by writes that free slots (close, requeue), never by ones that
-- fill them. Each statement in these (volatile, READ COMMITTED) functions takes a fresh
-- snapshot, so after acquiring the lock a function sees every earlier assignment.
-- Lock order is always: advisory lock, then conversation rows, then agent rows, so
-- the lock graph has no cycles. Under the lock, SKIP LOCKED would only skip a queued
-- conversation that a customer is momentarily writing to and hand the agent a younger
-- one, breaking oldest-first; so the queue head is taken with a plain FOR UPDATE.
-- The sweep additionally uses pg_try_advisory_xact_lock(chat_sweep_lock_key()) so only
-- one node at a time runs it.

-- Arbitrary but fixed keys of the advisory locks (shared by every node).
CREATE OR REPLACE FUNCTION chat_assign_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120031::bigint $$;
CREATE OR REPLACE FUNCTION chat_sweep_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120032::bigint $$;

-- Failed logins per (username, address), kept in Postgres so the limit holds across
-- workers and nodes; rows older than the window are pruned on write.
CREATE TABLE IF NOT EXISTS login_failures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text        NOT NULL,   -- lower(username) as typed, known or not
    address   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS login_failures_key_idx ON login_failures (username, address, at);

-- The FAQ's version: every admin change bumps it and notifies 'chat_faq', so every
-- worker on every node reloads (LISTEN chat_faq, or compare on a timer).
CREATE TABLE IF NOT EXISTS chat_faq_version (
    id       bool   PRIMARY KEY DEFAULT true CHECK (id),
    version  bigint NOT NULL DEFAULT 1
);
INSERT INTO chat_faq_version (id, version) VALUES (true, 1) ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------
-- JSON and small helpers

-- Conversations the agent holds right now (the capacity count).
CREATE OR REPLACE FUNCTION chat_agent_active(p_agent uuid) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT count(*)::int FROM conversations
     WHERE assigned_agent_id = p_agent AND status = 'agent'
$$;

CREATE OR REPLACE FUNCTION chat_agent_json(a agents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id,
        'username', a.username,
        'display_name', a.display_name,
        'role', a.role,
        'presence', a.presence,
        'max_active_chats', a.max_active_chats,
        'active_chats', chat_agent_active(a.id))
$$;

CREATE OR REPLACE FUNCTION chat_agent_by_id(p_agent uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT chat_agent_json(a) FROM agents a WHERE a.id = p_agent
$$;

-- A conversation as the agent API shows it.
CREATE OR REPLACE FUNCTION chat_agent_conv_json(p_conv uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT chat_conversation_json(c, 'agent') FROM conversations c WHERE c.id = p_conv
$$;

-- Whether an agent "handled" a conversation: it is (or was last) assigned to them,
-- or they wrote in it (a chat they transferred away).
CREATE OR REPLACE FUNCTION chat_agent_handled(c conversations, p_agent uuid) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT c.assigned_agent_id = p_agent
        OR EXISTS (SELECT 1 FROM messages m
                    WHERE m.conversation_id = c.id AND m.sender_agent_id = p_agent)
$$;

-- What an agent may see: role agent sees their own chats, the queue and closed chats
-- they handled; supervisor and admin see everything. Anything else is a 404.
CREATE OR REPLACE FUNCTION chat_agent_can_see(c conversations, p_agent uuid, p_role text)
RETURNS bool LANGUAGE sql STABLE AS $$
    SELECT p_role IN ('supervisor', 'admin')
        OR (c.status = 'agent' AND (c.assigned_agent_id = p_agent OR c.assigned_agent_id IS NULL))
        OR (c.status = 'closed' AND chat_agent_handled(c, p_agent))
$$;

-- The conversation row locked for a write, or CH404 when missing or invisible to the
-- caller (never revealing that someone else's conversation exists).
CREATE OR REPLACE FUNCTION chat_agent_lock_conv(p_conv uuid, p_agent uuid, p_role text)
RETURNS conversations LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
BEGIN
    SELECT * INTO c FROM conversations WHERE id = p_conv FOR UPDATE;
    IF NOT FOUND OR NOT chat_agent_can_see(c, p_agent, p_role) THEN
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

-- ---------------------------------------------------------------------------
-- Assignment

-- Gives one conversation (row locked by the caller, under the assign lock) to an
-- agent: the "<name> joined the chat" system message, version bump, idle clock.
CREATE OR REPLACE FUNCTION chat_assign_to(p_conv uuid, a agents) RETURNS messages
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations
       SET assigned_agent_id = a.id, updated_at = clock_timestamp(), version = version + 1
     WHERE id = p_conv;
    UPDATE agents SET last_assigned_at = clock_timestamp() WHERE id = a.id;
    RETURN chat_append(p_conv, 'system', NULL, 'event', a.display_name || ' joined the chat',
                       jsonb_build_object('event', 'assigned', 'agent_id', a.id), NULL);
END
$$;

-- Hands queued conversations, oldest first, to the online agent with the fewest
-- active chats below capacity (ties: idle longest), until the queue is empty or
-- nobody is free. Returns [{conversation_id, agent_id}] of what it assigned.
CREATE OR REPLACE FUNCTION chat_assign_queue() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    a agents;
    out jsonb := '[]'::jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    LOOP
        SELECT * INTO c FROM conversations
         WHERE status = 'agent' AND assigned_agent_id IS NULL
         ORDER BY queued_at, id
         LIMIT 1
           FOR UPDATE;
        EXIT WHEN NOT FOUND;

        SELECT * INTO a FROM agents g
         WHERE g.presence = 'online' AND g.deleted_at IS NULL
           AND chat_agent_active(g.id) < g.max_active_chats
         ORDER BY chat_agent_active(g.id), g.last_assigned_at NULLS FIRST, g.id
         LIMIT 1
           FOR UPDATE;
        EXIT WHEN NOT FOUND;

        PERFORM chat_assign_to(c.id, a);
        out := out || jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                           'agent_id', a.id));
    END LOOP;
    RETURN out;
END
$$;

-- Puts the open chats of some agents back at the FRONT of the queue (before everything
-- queued now, in their original queue order, whoever held them) with a system message
-- each. The caller holds the assign lock. Returns the conversation ids.
CREATE OR REPLACE FUNCTION chat_requeue_agents(p_agents uuid[]) RETURNS jsonb
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
       FOR UPDATE;

    -- k = 1 for the youngest, so the oldest ends up first in the queue
    FOR r IN
        SELECT c.id, g.id AS agent_id, g.display_name,
               row_number() OVER (ORDER BY c.queued_at DESC, c.id DESC) AS k
          FROM conversations c JOIN agents g ON g.id = c.assigned_agent_id
         WHERE c.status = 'agent' AND c.assigned_agent_id = ANY (p_agents)
         ORDER BY c.queued_at, c.id
    LOOP
        UPDATE conversations
           SET assigned_agent_id = NULL,
               queued_at = base - r.k * interval '1 millisecond',
               updated_at = clock_timestamp(), version = version + 1
         WHERE id = r.id;
        PERFORM chat_append(r.id, 'system', NULL, 'event',
                            r.display_name || ' left; you are back in the queue',
                            jsonb_build_object('event', 'requeued', 'agent_id', r.agent_id),
                            NULL);
        out := out || to_jsonb(r.id);
    END LOOP;
    RETURN out;
END
$$;

-- POST /escalate, replacing 002's version: automated -> agent (once), then assignment.
-- The queued message is added once, and only when nobody could take the chat; with a
-- free agent the only new message is "<name> joined the chat". Repeats change nothing;
-- closed is 409. Returns the messages this call added.
CREATE OR REPLACE FUNCTION chat_escalate(p_sid text, p_queued_text text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    before int;
    m messages;
    assigned jsonb := '[]'::jsonb;
BEGIN
    -- the assign lock first (lock order), so queued_at order is commit order too
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());

    SELECT * INTO c FROM conversations
     WHERE session_id = p_sid
     ORDER BY (status <> 'closed') DESC, created_at DESC LIMIT 1
       FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'no conversation for this session' USING ERRCODE = 'CH404';
    END IF;
    IF c.status = 'closed' THEN
        RAISE EXCEPTION 'conversation is closed' USING ERRCODE = 'CH409';
    END IF;

    before := c.last_seq;
    IF c.status = 'automated' THEN
        UPDATE conversations
           SET status = 'agent', requested_agent_at = clock_timestamp(),
               queued_at = clock_timestamp(), updated_at = clock_timestamp(),
               version = version + 1
         WHERE id = c.id;

        assigned := chat_assign_queue();

        SELECT * INTO c FROM conversations WHERE id = c.id;
        IF c.assigned_agent_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = c.id
                              AND sender_type = 'system'
                              AND metadata->>'event' = 'queued') THEN
            m := chat_append(c.id, 'system', NULL, 'event', p_queued_text,
                             '{"event": "queued"}'::jsonb, NULL);
        END IF;
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_messages_json(c.id, before, 1000),
        'assigned', assigned);
END
$$;

-- ---------------------------------------------------------------------------
-- Login, tokens, presence

-- Step 1 of login (the hash is checked in a thread pool, outside SQL): whether the
-- (username, address) pair is rate limited, and the agent's hash and token version.
-- {"limited": true, "retry_after": s} | {"limited": false, "agent_id": ...|null, ...}
CREATE OR REPLACE FUNCTION chat_agent_login_fetch(p_username text, p_address text,
    p_max_failures int, p_window_s int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n int;
    oldest timestamptz;
    a agents;
BEGIN
    SELECT count(*), min(at) INTO n, oldest FROM login_failures
     WHERE username = lower(p_username) AND address = p_address
       AND at > clock_timestamp() - make_interval(secs => p_window_s);
    IF n >= p_max_failures THEN
        RETURN jsonb_build_object('limited', true, 'retry_after',
            greatest(1, ceil(extract(epoch FROM oldest + make_interval(secs => p_window_s)
                                                 - clock_timestamp())))::int);
    END IF;

    SELECT * INTO a FROM agents WHERE lower(username) = lower(p_username);
    IF NOT FOUND THEN
        RETURN jsonb_build_object('limited', false, 'agent_id', NULL);
    END IF;
    RETURN jsonb_build_object('limited', false, 'agent_id', a.id,
        'password_hash', a.password_hash, 'token_version', a.token_version,
        'deleted', a.deleted_at IS NOT NULL);
END
$$;

-- Step 2a: a failed attempt is counted (and old ones pruned).
CREATE OR REPLACE FUNCTION chat_agent_login_failed(p_username text, p_address text,
    p_window_s int)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM login_failures
     WHERE username = lower(p_username) AND address = p_address
       AND at <= clock_timestamp() - make_interval(secs => p_window_s);
    INSERT INTO login_failures (username, address) VALUES (lower(p_username), p_address);
    RETURN jsonb_build_object('failed', true);
END
$$;

-- Step 2b: the password matched. Still valid only if nothing changed meanwhile (a
-- password change or delete bumps token_version): then the failures of the pair are
-- forgotten, the heartbeat set, and {"agent", "token_version"} returned; else NULL.
CREATE OR REPLACE FUNCTION chat_agent_login_ok(p_agent uuid, p_token_version bigint,
    p_username text, p_address text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    UPDATE agents SET last_seen_at = clock_timestamp()
     WHERE id = p_agent AND token_version = p_token_version AND deleted_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM login_failures WHERE username = lower(p_username) AND address = p_address;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'token_version', a.token_version);
END
$$;

-- Every authenticated agent request: the token's version must still be current and
-- the agent not deleted; also the heartbeat (last_seen_at, written at most once a
-- second to spare the row). {"agent", "token_version"} or NULL (core answers 401).
CREATE OR REPLACE FUNCTION chat_agent_auth(p_agent uuid, p_token_version bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    SELECT * INTO a FROM agents
     WHERE id = p_agent AND token_version = p_token_version AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF a.last_seen_at IS NULL OR a.last_seen_at < clock_timestamp() - interval '1 second' THEN
        UPDATE agents SET last_seen_at = clock_timestamp() WHERE id = p_agent;
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'token_version', a.token_version);
END
$$;

-- Logout revokes every token of the agent and takes them offline. Their open chats
-- stay theirs for now; without a heartbeat the grace sweep requeues them.
CREATE OR REPLACE FUNCTION chat_agent_logout(p_agent uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    UPDATE agents SET token_version = token_version + 1, presence = 'offline',
           updated_at = clock_timestamp()
     WHERE id = p_agent
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- POST /agent/presence. Going online runs assignment; away/offline keep their chats
-- (only the grace sweep requeues). {"agent", "assigned"}.
CREATE OR REPLACE FUNCTION chat_agent_presence(p_agent uuid, p_presence text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    assigned jsonb := '[]'::jsonb;
BEGIN
    IF p_presence NOT IN ('online', 'away', 'offline') THEN
        RAISE EXCEPTION 'presence must be online, away or offline' USING ERRCODE = 'CH422';
    END IF;
    IF p_presence = 'online' THEN
        PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    END IF;
    UPDATE agents SET presence = p_presence, last_seen_at = clock_timestamp(),
           updated_at = clock_timestamp()
     WHERE id = p_agent AND deleted_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent is disabled' USING ERRCODE = 'CH403';
    END IF;
    IF p_presence = 'online' THEN
        assigned := chat_assign_queue();
    END IF;
    SELECT * INTO a FROM agents WHERE id = p_agent;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'assigned', assigned);
END
$$;

-- ---------------------------------------------------------------------------
-- Views and reads

-- GET /agent/conversations. Views: active (assigned to me, open), queue (unassigned,
-- oldest first), closed (closed ones I handled; supervisor/admin: all), all (mine of any
-- status; supervisor/admin: everyone's). Keyset pagination: queue is ordered by
-- (queued_at, id) ascending, the others by (updated_at DESC, id); the cursor is the last
-- item's key, (p_cur_us = epoch microseconds, p_cur_id), NULL for the first page.
-- {"conversations": [Conversation + last_message], "next": {"us", "id"} | null}
CREATE OR REPLACE FUNCTION chat_agent_conversations(p_agent uuid, p_role text,
    p_view text, p_limit int, p_cur_us bigint, p_cur_id uuid)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    boss bool := p_role IN ('supervisor', 'admin');
    cur timestamptz := to_timestamp(0) + p_cur_us * interval '1 microsecond';
    ids uuid[];
    keys bigint[];
    more bool;
    items jsonb;
BEGIN
    IF p_view NOT IN ('active', 'queue', 'closed', 'all') THEN
        RAISE EXCEPTION 'view must be active, queue, closed or all' USING ERRCODE = 'CH422';
    END IF;

    IF p_view = 'queue' THEN
        SELECT array_agg(id ORDER BY queued_at, id),
               array_agg((extract(epoch FROM queued_at) * 1000000)::bigint ORDER BY queued_at, id)
          INTO ids, keys
          FROM (SELECT id, queued_at FROM conversations
                 WHERE status = 'agent' AND assigned_agent_id IS NULL
                   AND (cur IS NULL OR (queued_at, id) > (cur, p_cur_id))
                 ORDER BY queued_at, id
                 LIMIT p_limit + 1) q;
    ELSE
        SELECT array_agg(id ORDER BY updated_at DESC, id),
               array_agg((extract(epoch FROM updated_at) * 1000000)::bigint ORDER BY updated_at DESC, id)
          INTO ids, keys
          FROM (SELECT c.id, c.updated_at FROM conversations c
                 WHERE (cur IS NULL OR c.updated_at < cur
                        OR (c.updated_at = cur AND c.id > p_cur_id))
                   AND CASE p_view
                       WHEN 'active' THEN c.status = 'agent' AND c.assigned_agent_id = p_agent
                       WHEN 'closed' THEN c.status = 'closed'
                                          AND (boss OR chat_agent_handled(c, p_agent))
                       ELSE boss OR (c.status <> 'automated' AND chat_agent_handled(c, p_agent))
                       END
                 ORDER BY c.updated_at DESC, c.id
                 LIMIT p_limit + 1) q;
    END IF;

    ids := coalesce(ids, '{}');
    more := cardinality(ids) > p_limit;
    IF more THEN
        ids := ids[1:p_limit];
    END IF;

    SELECT coalesce(jsonb_agg(chat_conversation_json(c, 'agent')
                                || jsonb_build_object('last_message',
                                       (SELECT chat_message_json(m) FROM messages m
                                         WHERE m.conversation_id = c.id
                                         ORDER BY m.seq DESC LIMIT 1))
                              ORDER BY k.ord), '[]'::jsonb)
      INTO items
      FROM unnest(ids) WITH ORDINALITY AS k(id, ord)
      JOIN conversations c ON c.id = k.id;

    RETURN jsonb_build_object('conversations', items,
        'next', CASE WHEN more THEN jsonb_build_object('us', keys[p_limit], 'id', ids[p_limit])
                END);
END
$$;

-- GET /agent/conversations/{id}: {"conversation", "messages"} (seq > after, at most lim).
CREATE OR REPLACE FUNCTION chat_agent_conversation(p_agent uuid, p_role text,
    p_conv uuid, p_after int, p_limit int)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c conversations;
BEGIN
    SELECT * INTO c FROM conversations WHERE id = p_conv;
    IF NOT FOUND OR NOT chat_agent_can_see(c, p_agent, p_role) THEN
        RAISE EXCEPTION 'conversation not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', chat_messages_json(c.id, p_after, p_limit));
END
$$;

-- ---------------------------------------------------------------------------
-- Lifecycle writes

-- POST /agent/conversations/{id}/messages: only the assignee (or supervisor/admin),
-- only in status agent; the same client_id again returns the original message.
-- {"conversation", "messages": [msg], "replayed"}
CREATE OR REPLACE FUNCTION chat_agent_post(p_agent uuid, p_role text, p_conv uuid,
    p_client_id uuid, p_text text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    m messages;
BEGIN
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);

    IF p_client_id IS NOT NULL THEN
        SELECT * INTO m FROM messages
         WHERE conversation_id = c.id AND client_id = p_client_id;
        IF FOUND THEN
            RETURN jsonb_build_object(
                'conversation', chat_conversation_json(c, 'agent'),
                'messages', jsonb_build_array(chat_message_json(m)), 'replayed', true);
        END IF;
    END IF;

    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    IF p_role = 'agent' AND c.assigned_agent_id IS DISTINCT FROM p_agent THEN
        RAISE EXCEPTION 'not your conversation' USING ERRCODE = 'CH403';
    END IF;

    m := chat_append(c.id, 'agent', p_agent, 'text', p_text, NULL, p_client_id);
    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', jsonb_build_array(chat_message_json(m)), 'replayed', false);
END
$$;

-- POST .../claim: a queued chat to the caller if they are under capacity, else 409.
-- {"conversation", "messages": [joined], "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_claim(p_agent uuid, p_role text, p_conv uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    a agents;
    m messages;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);
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
    RETURN jsonb_build_object(
        'conversation', chat_agent_conv_json(c.id),
        'messages', jsonb_build_array(chat_message_json(m)),
        'assigned', jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                         'agent_id', a.id)));
END
$$;

-- POST .../transfer: by the assignee or a supervisor/admin, to an online, non-deleted
-- agent under capacity (else 409); "Transferred to <name>"; then the freed slot is
-- offered to the queue. {"conversation", "messages", "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_transfer(p_agent uuid, p_role text, p_conv uuid,
    p_target uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    t agents;
    before int;
    assigned jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);
    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    IF p_role = 'agent' AND c.assigned_agent_id IS DISTINCT FROM p_agent THEN
        RAISE EXCEPTION 'not your conversation' USING ERRCODE = 'CH403';
    END IF;

    SELECT * INTO t FROM agents WHERE id = p_target FOR UPDATE;
    IF NOT FOUND THEN
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
    UPDATE agents SET last_assigned_at = clock_timestamp() WHERE id = t.id;
    PERFORM chat_append(c.id, 'system', NULL, 'event', 'Transferred to ' || t.display_name,
                        jsonb_build_object('event', 'transferred', 'agent_id', t.id,
                                           'from_agent_id', c.assigned_agent_id,
                                           'by_agent_id', p_agent), NULL);
    assigned := chat_assign_queue();
    RETURN jsonb_build_object(
        'conversation', chat_agent_conv_json(c.id),
        'messages', chat_messages_json(c.id, before, 1000),
        'assigned', jsonb_build_array(jsonb_build_object('conversation_id', c.id,
                                                         'agent_id', t.id)) || assigned);
END
$$;

-- POST .../close: only from status agent (409 otherwise), by the assignee or a
-- supervisor/admin (another agent: 403); then the freed slot goes to the queue.
-- {"conversation", "messages": [system message], "assigned"}
CREATE OR REPLACE FUNCTION chat_agent_close(p_agent uuid, p_role text, p_conv uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    a agents;
    m messages;
    assigned jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    a := chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);
    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    IF p_role = 'agent' AND c.assigned_agent_id IS DISTINCT FROM p_agent THEN
        RAISE EXCEPTION 'not your conversation' USING ERRCODE = 'CH403';
    END IF;

    m := chat_append(c.id, 'system', NULL, 'event',
                     coalesce(a.display_name || ' closed the chat', 'The chat was closed'),
                     jsonb_build_object('event', 'closed', 'agent_id', a.id), NULL);
    UPDATE conversations
       SET status = 'closed', closed_at = clock_timestamp(), updated_at = clock_timestamp(),
           version = version + 1
     WHERE id = c.id;
    assigned := chat_assign_queue();
    RETURN jsonb_build_object(
        'conversation', chat_agent_conv_json(c.id),
        'messages', jsonb_build_array(chat_message_json(m)),
        'assigned', assigned);
END
$$;

-- POST .../read: the customer's messages up to a seq are read. {"conversation", "marked"}
CREATE OR REPLACE FUNCTION chat_agent_read(p_agent uuid, p_role text, p_conv uuid,
    p_up_to int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n int;
BEGIN
    c := chat_agent_lock_conv(p_conv, p_agent, p_role);
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

-- ---------------------------------------------------------------------------
-- Admin: agents

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

-- ---------------------------------------------------------------------------
-- Admin: FAQ. Every change bumps chat_faq_version and notifies 'chat_faq' with the
-- new version (delivered at commit), so every worker on every node reloads.

CREATE OR REPLACE FUNCTION chat_faq_bump() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE chat_faq_version SET version = version + 1 WHERE id RETURNING version INTO v;
    PERFORM pg_notify('chat_faq', v::text);
    RETURN v;
END
$$;

-- The current FAQ and its version, for a worker (re)loading its cache.
CREATE OR REPLACE FUNCTION chat_faq_current() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('version', (SELECT version FROM chat_faq_version),
                              'faq', chat_faq_json(false))
$$;

CREATE OR REPLACE FUNCTION chat_faq_entry_json(f faq_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('slug', f.slug, 'question', f.question, 'answer', f.answer,
                              'display_order', f.display_order, 'keywords', f.keywords,
                              'is_active', f.is_active)
$$;

-- GET /admin/faq: {"faq": [FaqEntry + keywords, is_active]} inactive included.
CREATE OR REPLACE FUNCTION chat_admin_faq_list() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('faq', chat_faq_json(true),
                              'version', (SELECT version FROM chat_faq_version))
$$;

-- POST /admin/faq (slug validated by core; a taken slug is 23505 -> 409).
-- {"faq", "version"}
CREATE OR REPLACE FUNCTION chat_admin_faq_create(p_slug text, p_question text,
    p_answer text, p_display_order int, p_keywords jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f faq_entries;
BEGIN
    INSERT INTO faq_entries (slug, question, answer, display_order, keywords)
    VALUES (p_slug, p_question, p_answer, coalesce(p_display_order, 0),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(p_keywords, '[]'::jsonb))))
    RETURNING * INTO f;
    RETURN jsonb_build_object('faq', chat_faq_entry_json(f), 'version', chat_faq_bump());
END
$$;

-- PATCH /admin/faq/{slug}: any of question, answer, display_order, keywords, is_active.
CREATE OR REPLACE FUNCTION chat_admin_faq_update(p_slug text, p_patch jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f faq_entries;
BEGIN
    UPDATE faq_entries SET
           question = coalesce(p_patch->>'question', question),
           answer = coalesce(p_patch->>'answer', answer),
           display_order = coalesce((p_patch->>'display_order')::int, display_order),
           keywords = CASE WHEN p_patch ? 'keywords'
                           THEN ARRAY(SELECT jsonb_array_elements_text(p_patch->'keywords'))
                           ELSE keywords END,
           is_active = coalesce((p_patch->>'is_active')::bool, is_active),
           updated_at = clock_timestamp()
     WHERE slug = p_slug
    RETURNING * INTO f;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'FAQ entry not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('faq', chat_faq_entry_json(f), 'version', chat_faq_bump());
END
$$;

-- DELETE /admin/faq/{slug}: a hard delete (the slug may be reused; hiding an entry
-- is PATCH is_active=false). Messages keep the answer text they showed.
CREATE OR REPLACE FUNCTION chat_admin_faq_delete(p_slug text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM faq_entries WHERE slug = p_slug;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'FAQ entry not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('deleted', p_slug, 'version', chat_faq_bump());
END
$$;
