-- functions/10_common: the API's JSON shapes (timestamps, messages, conversations, agents)
-- and the capacity count, which every other function file builds on.
--
-- Function files are source, not history: `chatctl migrate` re-applies each one (in name
-- order, in the one transaction of the run) whenever it changed or the database no longer holds
-- exactly its functions. Only CREATE OR REPLACE FUNCTION here; a table, an index or
-- the removal of a function is a schema migration (sql/NNN_*.sql), and so is the DROP
-- that must come first when a function's arguments or result type change (CREATE OR
-- REPLACE cannot change them). A LANGUAGE sql function is checked when it is created,
-- so it may only use functions of this file (above it) or of files before this one.

-- RFC 3339 UTC with milliseconds, as every timestamp of the API. STABLE, as to_char is:
-- a function declared IMMUTABLE around a STABLE body is never inlined, so every call was a
-- SQL-function call parsed and planned again in each statement that used it (about 15 % of
-- Postgres's CPU on the write path); STABLE it is inlined into its callers.
CREATE OR REPLACE FUNCTION chat_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The minute of a conversation's last change: updated_at rounded down to its minute, what a
-- site's lists are ordered by first (conversation_minutes, 034_conversation_minutes). date_bin
-- on timestamptz has no time zone in it: immutable, inlined.
CREATE OR REPLACE FUNCTION chat_minute(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('1 minute', t, timestamptz '2000-01-01 00:00:00+00')
$$;

-- After an UPDATE of a conversation's updated_at, in the same transaction (its row lock held):
-- its narrow row follows, written only when the minute changed (034_conversation_minutes: every
-- writer of updated_at calls this after its UPDATE, or writes the narrow row itself as the post
-- batch does, set-based). It reads the conversation as it is now, so a writer cannot pass a
-- stale time. plpgsql: its plan is kept for the session (a LANGUAGE sql function's statement
-- is planned again in every call), and its body is not checked against tables that a schema
-- of an older migration lacks.
CREATE OR REPLACE FUNCTION chat_minute_touch(p_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversation_minutes r SET updated_minute = chat_minute(c.updated_at)
      FROM conversations c
     WHERE c.id = p_id AND r.id = p_id AND r.updated_minute <> chat_minute(c.updated_at);
END
$$;

-- chat_uuid7 (below) at a millisecond the caller read already (p_ms: unix ms, chat_ms of its clock): the
-- post batch's ids take its run's t_ms, the messages' created_at, where each id read the clock
-- and took its epoch apart as a float (session 22, wt-pgprof: ~670 instructions an id, of
-- ~5 900; the rest is the bytes' hex and uuid_in's parse of it, which a SQL body cannot skip:
-- no cast from bytea to uuid, and to_hex with lpad cost more than int8send and encode).
-- VOLATILE (random()): every call a new id; p_ms read once, so it is inlined too.
CREATE OR REPLACE FUNCTION chat_uuid7_at(p_ms bigint) RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(int8send(p_ms * 65536 + 28672 + floor(random() * 4096)::bigint)
                  || int8send(floor(random() * 4503599627370496)::bigint * 1024
                              + floor(random() * 1024)::bigint - 9223372036854775807 - 1),
                  'hex')::uuid
$$;

-- A new row's id, time-ordered: a UUID version 7 (RFC 9562: the unix time in milliseconds in
-- the first 48 bits, then version 7, the variant and 74 random bits). Messages and conversations
-- get it (issue 11): with random ids every message insert went to a random leaf of messages_pkey
-- (hundreds of MB in a big database), read from disk, split, and after each checkpoint written
-- whole to the WAL; time-ordered ids append at the index's right edge. The random bits come from
-- random() (the backend's xoshiro256**, seeded from strong randomness when the backend starts),
-- not from gen_random_uuid (OpenSSL's RAND_bytes: 2-3 % of the backends' CPU under posts, two ids
-- a post, and its bytes were taken apart with bytea functions). An id is no secret and grants
-- nothing: a customer reaches a conversation only through their session (chat_session_conv), a
-- message id only among their session's (chat_customer_feedback), an agent only what
-- chat_agent_can_see lets them; the primary keys stay the guard against a duplicate. (Nothing
-- here calls setseed, which would make random() repeat.) Two bigints: the time shifted over the
-- version and 12 random bits; the variant 10 over 62 random bits (random() gives 52 per call).
-- VOLATILE, LANGUAGE sql without arguments: inlined into the INSERT. Its body is chat_uuid7_at's
-- (above) given the clock's millisecond, inlined in turn.
CREATE OR REPLACE FUNCTION chat_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT chat_uuid7_at(floor(date_part('epoch', clock_timestamp()) * 1000)::bigint)
$$;

CREATE OR REPLACE FUNCTION chat_message_json(m messages) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id,
        'conversation_id', m.conversation_id,
        'seq', m.seq,
        'sender_type', m.sender_type,
        'sender_agent_id', m.sender_agent_id,
        'kind', m.kind,
        'content', m.content,
        'metadata', m.metadata,
        'created_at', chat_ts(m.created_at),
        'read_at', chat_ts(m.read_at))
$$;

-- A queued conversation's place by priority: urgent 0, high 1, normal 2, low 3 (then queued_at,
-- then id). The department queues' index holds the same expression
-- (039_priority_rank_index writes it out: a migration cannot call this function; keep the two
-- the same). A SQL function the planner inlines, so a reader's call matches that index; it takes
-- text (the column, a chat_priority since 036, is coerced) because these files must apply to a
-- schema migrated only to 030.
CREATE OR REPLACE FUNCTION chat_priority_rank(p text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END
$$;

-- Position in the queue the conversation waits in (API.md "Offline"): its site's queue of its
-- department (NULL: the default queue), in serving order (the priority's rank, queued_at, id);
-- 1 for the next one served. plpgsql with one branch per kind of queue, so each count is an
-- index range of conversations_dept_queue_idx (chat_priority_rank, inlined, is that index's
-- expression: 039_priority_rank_index).
CREATE OR REPLACE FUNCTION chat_queue_position(c conversations) RETURNS int
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF c.status <> 'agent' OR c.assigned_agent_id IS NOT NULL THEN
        RETURN NULL;
    END IF;
    IF c.department_id IS NULL THEN
        RETURN (SELECT count(*)::int + 1 FROM conversations q
                 WHERE q.site = c.site AND q.department_id IS NULL
                   AND q.status = 'agent' AND q.assigned_agent_id IS NULL
                   AND (chat_priority_rank(q.priority),
                        q.queued_at, q.id)
                     < (chat_priority_rank(c.priority),
                        c.queued_at, c.id));
    END IF;
    RETURN (SELECT count(*)::int + 1 FROM conversations q
             WHERE q.site = c.site AND q.department_id = c.department_id
               AND q.status = 'agent' AND q.assigned_agent_id IS NULL
               AND (chat_priority_rank(q.priority),
                    q.queued_at, q.id)
                 < (chat_priority_rank(c.priority),
                    c.queued_at, c.id));
END
$$;

-- viewer 'customer': unread agent/bot/system messages; 'agent': unread customer messages
-- (the conversation's counters, 008_unread_counters). The agent and the queue position are
-- looked up only when there is one. plpgsql, not sql: a sql function with subqueries is
-- not inlined and would be planned again on every call; plpgsql keeps its plans.
CREATE OR REPLACE FUNCTION chat_conversation_json(c conversations, viewer text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    agent jsonb;
    customer jsonb;
    department jsonb;
    queue_position int;
BEGIN
    IF c.customer_id IS NOT NULL THEN
        SELECT jsonb_build_object('id', k.id, 'name', k.name, 'email', k.email)
          INTO customer
          FROM customers k WHERE k.id = c.customer_id;
    END IF;
    IF c.assigned_agent_id IS NOT NULL THEN
        SELECT jsonb_build_object('id', a.id, 'display_name', a.display_name)
          INTO agent
          FROM agents a WHERE a.id = c.assigned_agent_id;
    END IF;
    IF c.department_id IS NOT NULL THEN
        SELECT chat_department_ref_json(d)    -- 45_departments (plpgsql: resolved at run time)
          INTO department
          FROM departments d WHERE d.id = c.department_id;
    END IF;
    IF c.status = 'agent' AND c.assigned_agent_id IS NULL THEN
        queue_position := chat_queue_position(c);
    END IF;
    RETURN jsonb_build_object(
        'id', c.id,
        'status', c.status,
        'assigned_agent', agent,
        'queue_position', queue_position,
        'context', c.context,
        'customer', customer,
        'department', department,
        'priority', c.priority,
        'offline', c.offline,
        'tags', to_jsonb(c.tags),
        'rating', CASE WHEN c.rating_score IS NOT NULL THEN
                      jsonb_build_object('score', c.rating_score, 'comment', c.rating_comment) END,
        'last_seq', c.last_seq,
        'unread_count', CASE WHEN viewer = 'customer' THEN c.customer_unread
                             ELSE c.agent_unread END,
        'created_at', chat_ts(c.created_at),
        'updated_at', chat_ts(c.updated_at),
        'requested_agent_at', chat_ts(c.requested_agent_at),
        'closed_at', chat_ts(c.closed_at),
        'version', c.version);
END
$$;

-- Both sides' unread counts of a conversation, {"customer": n, "agent": m}. A write's answer
-- carries them beside its conversation (which shows the caller's count) for its realtime
-- events: each side hears its own (API.md: unread_count is the viewer's; core/src/events.cpp
-- writes each side's copy). Never sent to a client. No FROM: inlined into its caller.
CREATE OR REPLACE FUNCTION chat_unread_json(c conversations) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('customer', c.customer_unread, 'agent', c.agent_unread)
$$;

-- The same Conversation and Message as typed columns, for core to render (core/src/
-- conversation_json.cpp writes exactly the JSON of chat_conversation_json and chat_message_json
-- from them: the hot customer post answers these instead of JSON, issue 11). Timestamps are
-- milliseconds since the epoch, truncated as chat_ts truncates; jsonb values (context,
-- metadata) their text; tags space-joined (a tag holds no space: 017_agent_tools' CHECK); the
-- agent, customer and department ids NULL when there is none (their foreign keys: the row is
-- there when the id is). The agent's and the department's names are looked up only where the
-- conversation has one (a scalar subquery under CASE: an automated chat has no agent, and the
-- join it replaces read agents with a Seq Scan per row); the customer by a join (one lookup
-- for its name and email). One row, of NULLs for a NULL argument. LANGUAGE sql returning a
-- table: inlined into the caller's FROM (LATERAL).
CREATE OR REPLACE FUNCTION chat_ms(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT floor(extract(epoch FROM t) * 1000)::bigint
$$;

CREATE OR REPLACE FUNCTION chat_conversation_row(c conversations, viewer text)
RETURNS TABLE (c_id uuid, c_status text, c_agent_id uuid, c_agent_name text,
               c_queue_position int, c_context text, c_customer_id uuid, c_customer_name text,
               c_customer_email text, c_department_id uuid, c_department_name text,
               c_priority text, c_offline bool, c_tags text, c_rating_score int,
               c_rating_comment text, c_last_seq int, c_unread_count int, c_created_at bigint,
               c_updated_at bigint, c_requested_agent_at bigint, c_closed_at bigint,
               c_version bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.id, c.status, c.assigned_agent_id,
           CASE WHEN c.assigned_agent_id IS NOT NULL
                THEN (SELECT a.display_name FROM agents a WHERE a.id = c.assigned_agent_id) END,
           CASE WHEN c.status = 'agent' AND c.assigned_agent_id IS NULL
                THEN chat_queue_position(c) END,
           c.context::text, k.id, k.name, k.email, c.department_id,
           CASE WHEN c.department_id IS NOT NULL
                THEN (SELECT d.name FROM departments d WHERE d.id = c.department_id) END,
           c.priority, c.offline,
           array_to_string(c.tags, ' '), c.rating_score, c.rating_comment, c.last_seq,
           CASE WHEN viewer = 'customer' THEN c.customer_unread ELSE c.agent_unread END,
           chat_ms(c.created_at), chat_ms(c.updated_at), chat_ms(c.requested_agent_at),
           chat_ms(c.closed_at), c.version
      FROM (SELECT 1) one
      LEFT JOIN customers k ON k.id = c.customer_id
$$;

CREATE OR REPLACE FUNCTION chat_message_row(m messages)
RETURNS TABLE (m_id uuid, m_conversation_id uuid, m_seq int, m_sender_type text,
               m_sender_agent_id uuid, m_kind text, m_content text, m_metadata text,
               m_created_at bigint, m_read_at bigint)
LANGUAGE sql STABLE AS $$
    SELECT m.id, m.conversation_id, m.seq, m.sender_type, m.sender_agent_id, m.kind,
           m.content, m.metadata::text, chat_ms(m.created_at), chat_ms(m.read_at)
$$;

-- Messages with seq > after, ascending, at most lim. (plpgsql for its cached plan, as above.)
CREATE OR REPLACE FUNCTION chat_messages_json(conv uuid, after int, lim int)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(chat_message_json(m) ORDER BY m.seq), '[]'::jsonb)
              FROM (SELECT * FROM messages
                     WHERE conversation_id = conv AND seq > after
                     ORDER BY seq LIMIT lim) m);
END
$$;

-- The last lim messages, ascending.
CREATE OR REPLACE FUNCTION chat_last_messages_json(conv uuid, lim int)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(chat_message_json(m) ORDER BY m.seq), '[]'::jsonb)
              FROM (SELECT * FROM messages
                     WHERE conversation_id = conv
                     ORDER BY seq DESC LIMIT lim) m);
END
$$;

-- Conversations the agent holds right now (the capacity count).
CREATE OR REPLACE FUNCTION chat_agent_active(p_agent uuid) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT count(*)::int FROM conversations
     WHERE assigned_agent_id = p_agent AND status = 'agent'
$$;

-- The departments an agent is a member of, on the sites they are granted, by name:
-- [{"id", "name"}]. plpgsql for its cached plan: inline in chat_agent_json's sql it was
-- planned on every call (7x the cost of the whole Agent object, on every agent request).
CREATE OR REPLACE FUNCTION chat_agent_departments(a agents) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name) ORDER BY lower(d.name), d.site)
                       FROM department_agents m JOIN departments d ON d.id = m.department_id
                      WHERE m.agent_id = a.id AND d.site = ANY (a.sites)), '[]'::jsonb);
END
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
        'active_chats', chat_agent_active(a.id),
        'sites', to_jsonb(a.sites),
        'departments', chat_agent_departments(a),
        'totp_enabled', a.totp_enabled)
$$;

-- Whether an agent works on a site (chat_site): the sites they are granted. Login, every
-- token check, assignment and transfer ask this, so a grant taken away acts at once.
CREATE OR REPLACE FUNCTION chat_agent_on_site(a agents, p_site text) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT p_site = ANY (a.sites)
$$;
