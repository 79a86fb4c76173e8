-- functions/40_messages: appending a message (gapless seq under the conversation's row
-- lock), posts by customers and agents (idempotent by client_id), read receipts.
--
-- Every function that changes a conversation locks its row first (FOR UPDATE), so seq
-- is assigned gaplessly and in order however many workers and nodes post at once.

-- The bot's texts q= finds (029_post_write_path): each distinct one stored once in bot_texts.
-- Every writer of a bot message passes its text here in the same transaction (extra texts are
-- harmless: a search reaches messages only through their own text). In hash order, so that two
-- transactions adding the same new texts wait for each other in one order, never in a cycle.
-- The texts made distinct before their md5 is taken (a batch's replies are mostly the same few:
-- one md5 and one bot_texts lookup a distinct text, -5 % of the batch's CPU per post); two
-- texts with one md5 are left to ON CONFLICT. plpgsql for its cached plan.
CREATE OR REPLACE FUNCTION chat_bot_texts_add(p_texts text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bot_texts (hash, content)
    SELECT x.h, x.t
      FROM (SELECT md5(t)::uuid AS h, t
              FROM (SELECT DISTINCT t FROM unnest(p_texts) t WHERE t IS NOT NULL) d) x
     WHERE NOT EXISTS (SELECT 1 FROM bot_texts b WHERE b.hash = x.h)
     ORDER BY x.h
        ON CONFLICT DO NOTHING;
END
$$;

-- Appends one message under the conversation's row lock (the caller holds it): the next
-- seq, the version, and the unread counter of the side that has not read it yet.
CREATE OR REPLACE FUNCTION chat_append(conv uuid, p_sender text, p_agent uuid,
    p_kind text, p_content text, p_metadata jsonb, p_client_id uuid)
RETURNS messages LANGUAGE plpgsql AS $$
DECLARE
    s int;
    m messages;
BEGIN
    UPDATE conversations
       SET last_seq = last_seq + 1, updated_at = clock_timestamp(),
           version = version + 1,
           customer_unread = customer_unread + (p_sender <> 'customer')::int,
           agent_unread = agent_unread + (p_sender = 'customer')::int
     WHERE id = conv
    RETURNING last_seq INTO s;
    PERFORM chat_minute_touch(conv);

    INSERT INTO messages (id, conversation_id, seq, sender_type, sender_agent_id,
                          kind, content, metadata, client_id, created_at)
    VALUES (chat_uuid7(), conv, s, p_sender, p_agent, p_kind, p_content,
            coalesce(p_metadata, '{}'::jsonb), p_client_id, clock_timestamp())
    RETURNING * INTO m;
    IF p_sender = 'bot' THEN
        PERFORM chat_bot_texts_add(ARRAY[p_content]);
    END IF;

    RETURN m;
END
$$;

-- POST /messages from the customer. p_bot_reply (with p_bot_metadata) is the
-- FAQ bot's answer, stored only while the conversation is automated. The same
-- client_id again returns the original messages and writes nothing.
CREATE OR REPLACE FUNCTION chat_customer_post(p_sid text, p_client_id uuid,
    p_kind text, p_content text, p_bot_reply text, p_bot_metadata jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    m messages;
    n int;
    mid uuid := chat_uuid7();
    out jsonb;
BEGIN
    c := chat_session_conv(p_sid, true);

    IF p_client_id IS NOT NULL THEN
        SELECT * INTO m FROM messages
         WHERE conversation_id = c.id AND client_id = p_client_id;
        IF FOUND THEN
            SELECT coalesce(jsonb_agg(chat_message_json(x) ORDER BY x.seq), '[]')
              INTO out
              FROM messages x
             WHERE x.conversation_id = c.id
               AND (x.id = m.id OR x.metadata->>'in_reply_to' = m.id::text);
            RETURN jsonb_build_object(
                'conversation', chat_conversation_json(c, 'customer'),
                'messages', out, 'replayed', true);
        END IF;
    END IF;

    IF c.status = 'closed' THEN
        RAISE EXCEPTION 'conversation is closed' USING ERRCODE = 'CH409';
    END IF;

    -- the customer's message and the bot's reply: one update of the conversation (seq,
    -- version and unread as chat_append would count them) and one insert of both rows
    n := CASE WHEN c.status = 'automated' AND p_bot_reply IS NOT NULL THEN 2 ELSE 1 END;

    UPDATE conversations
       SET last_seq = last_seq + n, updated_at = clock_timestamp(),
           version = version + n,
           customer_unread = customer_unread + n - 1,
           agent_unread = agent_unread + 1
     WHERE id = c.id
    RETURNING * INTO c;
    PERFORM chat_minute_touch(c.id);

    WITH ins AS (
        INSERT INTO messages (id, conversation_id, seq, sender_type, kind, content,
                              metadata, client_id, created_at)
        SELECT mid, c.id, c.last_seq - n + 1, 'customer', p_kind, p_content,
               '{}'::jsonb, p_client_id, clock_timestamp()
        UNION ALL
        SELECT chat_uuid7(), c.id, c.last_seq, 'bot', 'text', p_bot_reply,
               coalesce(p_bot_metadata, '{}'::jsonb) || jsonb_build_object('in_reply_to', mid),
               NULL, clock_timestamp()
         WHERE n = 2
        RETURNING *)
    SELECT jsonb_agg(chat_message_json(ins) ORDER BY ins.seq) INTO out FROM ins;
    IF n = 2 THEN
        PERFORM chat_bot_texts_add(ARRAY[p_bot_reply]);
    END IF;

    -- only when the bot fell back: the question counts for the reports' "unmatched"
    -- (unmatched_pending, counted by chat_unmatched_fold: 92_feedback)
    IF n = 2 AND p_bot_metadata ? 'fallback' THEN
        INSERT INTO unmatched_pending (site, day, backend, content)
        VALUES (c.site, (c.updated_at AT TIME ZONE 'UTC')::date, pg_backend_pid(), p_content);
    END IF;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', out, 'replayed', false, 'unread', chat_unread_json(c));
END
$$;

-- POST /agent/conversations/{id}/messages: only the assignee (or supervisor/admin),
-- only in status agent; the same client_id again returns the original message.
-- {"conversation", "messages": [msg], "replayed"}
CREATE OR REPLACE FUNCTION chat_agent_post(p_agent uuid, p_role text, p_conv uuid,
    p_client_id uuid, p_text text, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    m messages;
BEGIN
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);

    IF p_client_id IS NOT NULL THEN
        SELECT * INTO m FROM messages
         WHERE conversation_id = c.id AND client_id = p_client_id;
        IF FOUND THEN
            RETURN jsonb_build_object(
                'conversation', chat_conversation_json(c, 'agent'),
                'messages', jsonb_build_array(chat_message_json(m)), 'replayed', true,
                'unread', chat_unread_json(c));
        END IF;
    END IF;

    IF c.status <> 'agent' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    PERFORM chat_agent_require_write(c, p_agent, p_role);

    m := chat_append(c.id, 'agent', p_agent, 'text', p_text, NULL, p_client_id);
    -- the first response the reports measure (once per conversation)
    IF c.first_response_at IS NULL AND c.requested_agent_at IS NOT NULL THEN
        UPDATE conversations SET first_response_at = m.created_at WHERE id = c.id;
    END IF;
    SELECT * INTO c FROM conversations WHERE id = c.id;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', jsonb_build_array(chat_message_json(m)), 'replayed', false,
        'unread', chat_unread_json(c));
END
$$;

-- POST /read from the customer: agent, bot and system messages up to a seq.
CREATE OR REPLACE FUNCTION chat_customer_read(p_sid text, p_up_to int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n int;
BEGIN
    c := chat_session_conv(p_sid, false);

    UPDATE messages SET read_at = clock_timestamp()
     WHERE conversation_id = c.id AND seq <= p_up_to
       AND sender_type <> 'customer' AND read_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;

    IF n > 0 THEN
        UPDATE conversations SET version = version + 1,
               customer_last_read_seq = greatest(customer_last_read_seq, p_up_to),
               customer_unread = customer_unread - n
         WHERE id = c.id
        RETURNING * INTO c;
    END IF;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'marked', n);
END
$$;

-- POST .../read: the customer's messages up to a seq are read. A conversation the agent
-- cannot see is 404 (as before); one they see but may not write to (the queue, a chat
-- they handled before it was transferred) is 403. {"conversation", "marked", "unread",
-- "session_id"} (session_id: the customer's, whose cached conversation then goes; never
-- sent to clients)
CREATE OR REPLACE FUNCTION chat_agent_read(p_agent uuid, p_role text, p_conv uuid,
    p_up_to int, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n int;
BEGIN
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);
    PERFORM chat_agent_require_write(c, p_agent, p_role);
    UPDATE messages SET read_at = clock_timestamp()
     WHERE conversation_id = c.id AND seq <= p_up_to
       AND sender_type = 'customer' AND read_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE conversations SET version = version + 1,
               agent_last_read_seq = greatest(agent_last_read_seq, p_up_to),
               agent_unread = agent_unread - n
         WHERE id = c.id
        RETURNING * INTO c;
    END IF;
    RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'agent'),
                              'marked', n, 'unread', chat_unread_json(c),
                              'session_id', c.session_id);
END
$$;

-- POST /messages from customers, grouped: the pool sends the posts that queued up while its
-- connections were busy as one call in one transaction (group commit). One row per item, in
-- input order: its answer or its error (sqlstate, message). An item written set-based (below)
-- answers typed columns, no JSON (issue 11: building it cost Postgres a quarter of its CPU
-- per post, and core parsing it again), and only what core cannot know itself (wave 15): the
-- conversation as chat_conversation_row(c, 'customer') right after its write, the ids of the
-- customer's message (m_id) and of the bot's reply (r_id, NULL when none), then the agent side's
-- unread count (c_agent_unread: the events agents hear carry it; chat_unread_json). The rest of
-- both messages is core's own input (kind, texts, the reply's metadata plus in_reply_to = m_id),
-- or follows from the conversation: seq last_seq - 1 and last_seq (last_seq alone without a
-- reply), no agent, unread, created_at = the conversation's updated_at (one clock value a run,
-- below). core renders the API's JSON from them (customer.cpp typed_post, conversation_json.cpp).
-- Every other item answers chat_customer_post's JSON in `answer` and NULL typed columns. At most
-- 64 items: more subtransactions (the per-item path's) per transaction would overflow
-- Postgres's per-backend subtransaction cache (the pool sends fewer).
--
-- One clock value a run (t, read once the run's rows are locked): the conversations' updated_at
-- and both messages' created_at, and its milliseconds (chat_ms, a numeric extract: ~2 us a call)
-- taken once for the run, where each row took clock_timestamp() and each answer four chat_ms.
-- Ordering holds: seq orders messages; the run's messages share one created_at, after every
-- earlier message of their conversations (those were written by transactions that committed
-- before this one locked the row, hence read the clock before t) and before any later one (a
-- later writer waits for this transaction's lock, then reads the clock); a per-item post of the
-- batch runs after the runs before it, with its own clock_timestamp().
--
-- The common case is written set-based: the first post of each conversation that is open,
-- not a replay and whose row this transaction can lock without waiting (SKIP LOCKED) goes
-- into one UPDATE of all those conversations and one INSERT of all their messages (the
-- customer's and, while automated, the bot's reply), numbered as chat_customer_post would:
-- its rule written once more, set-wise, with the same counters. Per-item statements and a
-- subtransaction per item cost Postgres more CPU than the writes themselves.
--
-- Two statements (issue 11): the first selects and locks those items
-- (sel: each conversation's first post of the batch, found as chat_session_conv finds it, locked
-- unless another transaction holds it) into w_id/w_n by item; the second writes a run of them
-- and answers their rows itself, straight into the function's result (RETURN QUERY), sorted by
-- item: no second pass over composite arrays of the written rows, the agent, customer and
-- department looked up only where the conversation has one (chat_conversation_row). The items
-- are answered in input order: a run of set-based items at once, every other item (a replay, a
-- closed conversation, a session without one, a second post of a conversation in this batch, a
-- row locked by another transaction) in its place, by chat_customer_post (the one place of the
-- post rule) in its own subtransaction, so its error (CH404, CH409, ...) is answered to it alone.
-- Its conversation's earlier posts of the batch are written by then (input order). The common
-- batch is one run: two statements in all.
--
-- Each conversation is found by an index once (session 19, wt-lookup): its session's lookup in
-- conversations_session_idx gives the row's ctid, the lock reaches the row through it (a TID scan,
-- the session_id checked again) and answers the ctid of the version it locked, and the write's
-- UPDATE finds its rows by those ctids (the ids checked again), where the lock and the UPDATE each
-- descended conversations_pkey once more. A ctid is the row version the statement's snapshot saw.
-- Locked without a wait (SKIP LOCKED) it is the newest version, and nothing moves it before the
-- write: the row lock is held, and no per-item post of the batch writes a later run's conversation
-- (a run's item is its conversation's first of the batch). A row that a transaction committing
-- after that snapshot updated moved: the lock follows it to its newest version, and Postgres's
-- recheck of a TID scan (EvalPlanQual: is the newest version at the ctid?) drops the row, its lock
-- kept; that item then goes the per-item path, where chat_customer_post finds its conversation
-- anew, never the set-based write from a version the statement did not see. Should the UPDATE
-- miss a row all the same, the call fails (XX000, nothing written) and core posts each item alone.
-- Postgres's instructions a post (bench/batch-ab.sh BENCH_INSTRUCTIONS=1 BENCH_VACUUM=1): cold
-- -1.7 %, the real load's mix -1.5 %, warm -2.5 % (index descents 37 300 -> 26 500 a post).
--
-- The set-based statements run in no subtransaction of their own (a subtransaction gave every
-- row they wrote its own xid, for commit and for every reader's visibility check, and rows
-- already answered cannot be taken back should the write fail after answering): they are never
-- expected to fail, and if they do, the whole call fails and core posts each item again on its
-- own (customer.cpp, posted_alone), so one failing post still never fails another.
--
-- Skipping locked rows means the set-based part never waits; a per-item post may, while the
-- batch holds the rows of the others. Others hold several conversation locks in another order
-- (chat_assign_queue takes the queue in queue order, chat_requeue_agents an agent's chats): so
-- that a batch is never part of a lock cycle for long, an item waits at most 50 ms for its row
-- (lock_timeout, for this transaction only); then it fails alone with 55P03 and core posts it
-- again on its own (chat_customer_post, one row lock, no cycle possible).
--
-- Its statements run their generic plans (plan_cache_mode, for this function and what it
-- calls). With auto, the write statement (it reads the locked items through arrays) was planned
-- again on every call of a few posts (at 1; at 8 the generic plan won already): a constant
-- array's row count makes the custom plan look cheaper than the generic one. That was a sixth of
-- Postgres's CPU of a one-post call (issue 11; README, "Postgres's fixed cost per batch call").
-- The generic plans have the custom ones' shapes: every lookup is by an index.
CREATE OR REPLACE FUNCTION chat_customer_post_batch_v2(p_sids text[], p_client_ids uuid[],
    p_kinds text[], p_contents text[], p_bot_replies text[], p_bot_metadata jsonb[])
RETURNS TABLE (answer text, err_state text, err_message text,
               c_id uuid, c_status text, c_agent_id uuid, c_agent_name text,
               c_queue_position int, c_context text, c_customer_id uuid, c_customer_name text,
               c_customer_email text, c_department_id uuid, c_department_name text,
               c_priority text, c_offline bool, c_tags text, c_rating_score int,
               c_rating_comment text, c_last_seq int, c_unread_count int, c_created_at bigint,
               c_updated_at bigint, c_requested_agent_at bigint, c_closed_at bigint,
               c_version bigint, m_id uuid, r_id uuid, c_agent_unread int) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n int := coalesce(cardinality(p_sids), 0);
    i int := 1;
    j int;
    -- by item: the conversation it is written to set-based (NULL: the per-item path), and how
    -- many messages (2 with the bot's reply)
    w_id uuid[];
    w_n int[];
    w_tid tid[];
    rc int;
    waits bool := false;
    t timestamptz;  -- the run's clock (above)
    t_ms bigint;
    t_min timestamptz;
BEGIN
    IF n > 64 THEN
        RAISE EXCEPTION 'at most 64 posts per batch' USING ERRCODE = 'CH422';
    END IF;
    -- every reply of the batch, written or not, in the same statement: chat_bot_texts_add's
    -- insert as a data-modifying WITH (session 17, wt-exec: the call of the plpgsql function
    -- was a nested executor and its insert planned again on every call, 2.9 % of the batch's
    -- instructions a post). It runs to completion before the statement ends, after the rows are
    -- locked (SKIP LOCKED: nothing waited for); waiting there for another transaction's same new
    -- text is as chat_customer_post waits for it, under its row lock. A session's conversation
    -- as chat_session_conv finds it (the newest open one, else the newest): two lookups in the
    -- order of conversations_session_idx (the second only for a session whose conversations are
    -- all closed), where one ordered by (status <> 'closed') DESC, created_at DESC sorted each
    -- item's rows; each gives the row's ctid, locked by it (a TID scan, above). The known texts
    -- looked up by a subquery a text, a lookup by the key: as NOT EXISTS the generic plan was a
    -- hash anti join over a scan of all of bot_texts.
    WITH added AS (
        INSERT INTO bot_texts (hash, content)
        SELECT x.h, x.txt
          FROM (SELECT md5(d.txt)::uuid AS h, d.txt
                  FROM (SELECT DISTINCT r.txt FROM unnest(p_bot_replies) r(txt)
                         WHERE r.txt IS NOT NULL) d) x
         WHERE (SELECT b.hash FROM bot_texts b WHERE b.hash = x.h) IS NULL
         ORDER BY x.h
            ON CONFLICT DO NOTHING)
    SELECT array_agg(x.id), array_agg(x.n), array_agg(x.tid) INTO w_id, w_n, w_tid
      FROM (SELECT s.id, s.tid, CASE WHEN s.status = 'automated' AND p_bot_replies[i.o] IS NOT NULL
                                     THEN 2 ELSE 1 END AS n
              FROM generate_subscripts(p_sids, 1) i(o)
              LEFT JOIN (SELECT x.o, x.id, x.tid, x.status
                           FROM (SELECT DISTINCT ON (k.id) i.o, k.id, k.tid, k.status
                                   FROM generate_subscripts(p_sids, 1) i(o)
                                   CROSS JOIN LATERAL (
                                         SELECT coalesce(
                                             (SELECT ctid FROM conversations
                                               WHERE session_id = p_sids[i.o] AND status <> 'closed'
                                               ORDER BY created_at DESC LIMIT 1),
                                             (SELECT ctid FROM conversations
                                               WHERE session_id = p_sids[i.o]
                                               ORDER BY created_at DESC LIMIT 1)) AS tid) s
                                   CROSS JOIN LATERAL (
                                         SELECT id, ctid AS tid, status FROM conversations
                                          WHERE ctid = s.tid AND session_id = p_sids[i.o]
                                            FOR UPDATE SKIP LOCKED) k
                                  ORDER BY k.id, i.o) x
                          WHERE x.status <> 'closed'
                            AND NOT EXISTS (SELECT 1 FROM messages m
                                             WHERE m.conversation_id = x.id
                                               AND m.client_id = p_client_ids[x.o])) s
                ON s.o = i.o
             ORDER BY i.o) x;

    WHILE i <= n LOOP
        IF w_id[i] IS NULL THEN
            IF NOT waits THEN
                PERFORM set_config('lock_timeout', '50ms', true);
                waits := true;
            END IF;
            answer := NULL;
            err_state := NULL;
            err_message := NULL;
            BEGIN
                answer := chat_customer_post(p_sids[i], p_client_ids[i], p_kinds[i], p_contents[i],
                                             p_bot_replies[i], p_bot_metadata[i])::text;
            EXCEPTION WHEN OTHERS THEN
                err_state := SQLSTATE;
                err_message := SQLERRM;
            END;
            RETURN NEXT;
            i := i + 1;
            CONTINUE;
        END IF;
        -- items i..j are set-based (read through unnest: its estimate of a few rows gives the
        -- generic plan an index lookup per item, where generate_series' 1000 gave a hash join
        -- over every conversation): their conversations' update, their messages' insert, the
        -- questions the bot fell back on appended for the reports' "unmatched" (unm:
        -- unmatched_pending, counted by chat_unmatched_fold off the post path, 92_feedback), and
        -- their answers in item order (sorted after every write of the statement: no row is
        -- answered before the writes are done)
        j := coalesce(array_position(w_id, NULL, i) - 1, n);
        -- t_ms is also the millisecond of the run's message ids (chat_uuid7_at: their time is
        -- their created_at's, no clock read and float epoch an id)
        t := clock_timestamp();
        t_ms := chat_ms(t);
        t_min := chat_minute(t);
        RETURN QUERY
            WITH upd AS (
                UPDATE conversations c
                   SET last_seq = c.last_seq + f.n, updated_at = t,
                       version = c.version + f.n,
                       customer_unread = c.customer_unread + f.n - 1,
                       agent_unread = c.agent_unread + 1
                  FROM unnest(w_tid[i:j], w_id[i:j], w_n[i:j]) WITH ORDINALITY f(tid, id, n, k)
                 WHERE c.ctid = f.tid AND c.id = f.id
                RETURNING (i - 1 + f.k)::int AS o, f.n, chat_uuid7_at(t_ms) AS mid,
                          CASE WHEN f.n = 2 THEN chat_uuid7_at(t_ms) END AS rid,
                          c.id, c.status, c.assigned_agent_id, c.context, c.customer_id,
                          c.department_id, c.priority, c.offline, c.tags, c.rating_score,
                          c.rating_comment, c.last_seq, c.customer_unread, c.agent_unread,
                          c.created_at, c.requested_agent_at, c.closed_at, c.version, c.site),
            -- not read below: a data-modifying WITH runs to completion all the same, before
            -- the statement ends (a failure fails the statement, and so the call)
            ins AS (
                INSERT INTO messages (id, conversation_id, seq, sender_type, kind, content,
                                      metadata, client_id, created_at)
                SELECT u.mid, u.id, u.last_seq - u.n + 1, 'customer',
                       p_kinds[u.o], p_contents[u.o], '{}'::jsonb, p_client_ids[u.o], t
                  FROM upd u
                UNION ALL
                -- the reply's in_reply_to by jsonb_object over text (the uuid's text, as
                -- jsonb_build_object writes it): jsonb_build_object looked up its arguments'
                -- types' output functions on every row (~2 000 instructions a reply, session 22)
                SELECT u.rid, u.id, u.last_seq, 'bot', 'text',
                       p_bot_replies[u.o],
                       coalesce(p_bot_metadata[u.o], '{}'::jsonb)
                           || jsonb_object('{in_reply_to}'::text[], ARRAY[u.mid::text]),
                       NULL, t
                  FROM upd u
                 WHERE u.n = 2),
            unm AS (
                INSERT INTO unmatched_pending (site, day, backend, content)
                SELECT u.site, (t AT TIME ZONE 'UTC')::date, pg_backend_pid(),
                       p_contents[u.o]
                  FROM upd u
                 WHERE u.n = 2 AND p_bot_metadata[u.o] ? 'fallback'),
            -- the site lists' narrow rows (034_conversation_minutes) of the run's conversations
            -- (each updated by upd: locked above), only where the minute changed: a real chat's
            -- post; the conversation's own update stays HOT. By id = ANY of the run's ids, a
            -- lookup by the key whatever the table's size, where a join to upd's rows was planned
            -- as a sequential scan of a few thousand narrow rows (a small shop's: +9 % a post)
            mins AS (
                UPDATE conversation_minutes r SET updated_minute = t_min
                 WHERE r.id = ANY (w_id[i:j]) AND r.updated_minute <> t_min)
            -- the conversation as chat_conversation_row(c, 'customer') answers it, written out
            -- over upd's columns (session 18, wt-pgpost: each (u.conv).field walked the whole
            -- row's composite datum up to its column, ~30 of them a post, 2.7 % of its
            -- instructions); the queue's position (rare: an agent chat waiting in the queue) from
            -- the row as the statement's snapshot has it (before upd: a post changes none of the
            -- columns the position reads), not from a copy of every row returned. Domains (031_domains): RETURN QUERY wants the declared types; updated_at
            -- is t (t_ms: no chat_ms a row)
            SELECT NULL::text, NULL::text, NULL::text, u.id, u.status::text, u.assigned_agent_id,
                   CASE WHEN u.assigned_agent_id IS NOT NULL
                        THEN (SELECT a.display_name FROM agents a WHERE a.id = u.assigned_agent_id) END,
                   CASE WHEN u.status = 'agent' AND u.assigned_agent_id IS NULL
                        THEN (SELECT chat_queue_position(q) FROM conversations q WHERE q.id = u.id) END,
                   u.context::text, k.id, k.name, k.email, u.department_id,
                   CASE WHEN u.department_id IS NOT NULL
                        THEN (SELECT d.name FROM departments d WHERE d.id = u.department_id) END,
                   u.priority::text, u.offline, array_to_string(u.tags, ' '), u.rating_score::int,
                   u.rating_comment::text, u.last_seq::int, u.customer_unread::int,
                   chat_ms(u.created_at), t_ms, chat_ms(u.requested_agent_at), chat_ms(u.closed_at),
                   u.version::bigint, u.mid, u.rid, u.agent_unread::int
              FROM upd u
              -- a lookup by the key a row (OFFSET 0: not pulled up into a join, which the generic
              -- plan made a hash join over a scan of all customers)
              LEFT JOIN LATERAL (SELECT k.id, k.name, k.email FROM customers k
                                  WHERE k.id = u.customer_id OFFSET 0) k ON true
             ORDER BY u.o;
        GET DIAGNOSTICS rc = ROW_COUNT;
        IF rc <> j - i + 1 THEN
            RAISE EXCEPTION 'post batch: % of % locked conversations not found by ctid', j - i + 1 - rc, j - i + 1
                USING ERRCODE = 'XX000';
        END IF;
        i := j + 1;
    END LOOP;
END
$$;

-- The post batch as nodes older than chat_customer_post_batch_v2 call it (a rolling upgrade: the
-- database is migrated first, then each node; README "Upgrading"): the same items written by
-- chat_customer_post_batch_v2, answered with both messages' rows as chat_message_row after the
-- conversation's columns, as before. Each message read back by its id in a statement of its
-- own (a statement sees only what was written before it started). Kept until no node older
-- than v2 is left; a later migration drops it.
CREATE OR REPLACE FUNCTION chat_customer_post_batch(p_sids text[], p_client_ids uuid[],
    p_kinds text[], p_contents text[], p_bot_replies text[], p_bot_metadata jsonb[])
RETURNS TABLE (answer text, err_state text, err_message text,
               c_id uuid, c_status text, c_agent_id uuid, c_agent_name text,
               c_queue_position int, c_context text, c_customer_id uuid, c_customer_name text,
               c_customer_email text, c_department_id uuid, c_department_name text,
               c_priority text, c_offline bool, c_tags text, c_rating_score int,
               c_rating_comment text, c_last_seq int, c_unread_count int, c_created_at bigint,
               c_updated_at bigint, c_requested_agent_at bigint, c_closed_at bigint,
               c_version bigint,
               m_id uuid, m_conversation_id uuid, m_seq int, m_sender_type text,
               m_sender_agent_id uuid, m_kind text, m_content text, m_metadata text,
               m_created_at bigint, m_read_at bigint,
               r_id uuid, r_conversation_id uuid, r_seq int, r_sender_type text,
               r_sender_agent_id uuid, r_kind text, r_content text, r_metadata text,
               r_created_at bigint, r_read_at bigint,
               c_agent_unread int) LANGUAGE plpgsql AS $$
DECLARE
    b record;
    m messages;
BEGIN
    FOR b IN SELECT * FROM chat_customer_post_batch_v2(p_sids, p_client_ids, p_kinds, p_contents,
                                                       p_bot_replies, p_bot_metadata) LOOP
        answer := b.answer; err_state := b.err_state; err_message := b.err_message;
        c_id := b.c_id; c_status := b.c_status; c_agent_id := b.c_agent_id;
        c_agent_name := b.c_agent_name; c_queue_position := b.c_queue_position;
        c_context := b.c_context; c_customer_id := b.c_customer_id;
        c_customer_name := b.c_customer_name; c_customer_email := b.c_customer_email;
        c_department_id := b.c_department_id; c_department_name := b.c_department_name;
        c_priority := b.c_priority; c_offline := b.c_offline; c_tags := b.c_tags;
        c_rating_score := b.c_rating_score; c_rating_comment := b.c_rating_comment;
        c_last_seq := b.c_last_seq; c_unread_count := b.c_unread_count;
        c_created_at := b.c_created_at; c_updated_at := b.c_updated_at;
        c_requested_agent_at := b.c_requested_agent_at; c_closed_at := b.c_closed_at;
        c_version := b.c_version; c_agent_unread := b.c_agent_unread;
        m := NULL;
        IF b.m_id IS NOT NULL THEN
            SELECT * INTO m FROM messages x WHERE x.id = b.m_id;
        END IF;
        SELECT * INTO m_id, m_conversation_id, m_seq, m_sender_type, m_sender_agent_id, m_kind,
                      m_content, m_metadata, m_created_at, m_read_at
          FROM chat_message_row(m);
        m := NULL;
        IF b.r_id IS NOT NULL THEN
            SELECT * INTO m FROM messages x WHERE x.id = b.r_id;
        END IF;
        SELECT * INTO r_id, r_conversation_id, r_seq, r_sender_type, r_sender_agent_id, r_kind,
                      r_content, r_metadata, r_created_at, r_read_at
          FROM chat_message_row(m);
        RETURN NEXT;
    END LOOP;
END
$$;

-- The key messages.sender_agent_id -> agents (id) as two triggers (040_sender_agent_triggers):
-- the key's AFTER event was queued and fired for every inserted message, the customer's and the
-- bot's of every post too, only to find their NULL (-2.4 % of a post's instructions with these).
-- A message naming an agent: the agent must exist, locked FOR KEY SHARE until the transaction
-- ends as the key's check locked it, so that a concurrent DELETE (or UPDATE of id) of the agent
-- waits for this one and then finds the message (chat_agent_messages_check, below, in its own
-- statement's snapshot); a delete that came first makes this lock wait for it, and once it
-- commits finds no row: 23503 either way, whichever order the two come in.
CREATE OR REPLACE FUNCTION chat_message_agent_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM agents a WHERE a.id = NEW.sender_agent_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "messages" violates foreign key constraint "messages_sender_agent_id_fkey"'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'messages',
                  CONSTRAINT = 'messages_sender_agent_id_fkey',
                  DETAIL = format('Key (sender_agent_id)=(%s) is not present in table "agents".', NEW.sender_agent_id);
    END IF;
    RETURN NULL;
END
$$;

-- An agent a message names cannot be deleted, nor its id changed (the key's NO ACTION): looked
-- up by messages_sender_agent_conversation_idx. Under READ COMMITTED each statement here sees
-- every message committed before it, a message whose insert locked the agent first included
-- (the DELETE waited for it). A transaction's snapshot (REPEATABLE READ, SERIALIZABLE: a writer
-- at READ COMMITTED is outside SSI's predicate locks) would miss that message (the key's check
-- had a newer snapshot of its own for it, which SQL has not): refused there rather than risk a
-- message naming no agent. The product never deletes agents (they are soft-deleted).
CREATE OR REPLACE FUNCTION chat_agent_messages_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') IN ('repeatable read', 'serializable') THEN
        RAISE EXCEPTION 'an agent''s delete or change of id needs READ COMMITTED'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF EXISTS (SELECT 1 FROM messages m WHERE m.sender_agent_id = OLD.id) THEN
        RAISE EXCEPTION 'update or delete on table "agents" violates foreign key constraint "messages_sender_agent_id_fkey" on table "messages"'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'agents',
                  CONSTRAINT = 'messages_sender_agent_id_fkey',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "messages".', OLD.id);
    END IF;
    RETURN NULL;
END
$$;

-- Created once (as chat_conversations_gone: CREATE OR REPLACE TRIGGER would lock the tables
-- against writes at every migrate that applies this file). On a schema not yet at 040 they
-- check alongside the key, which is harmless. Not deferrable: they fire at the end of the
-- statement, as the key's checks did.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'chat_message_agent'
                      AND tgrelid = 'messages'::regclass) THEN
        CREATE CONSTRAINT TRIGGER chat_message_agent AFTER INSERT OR UPDATE OF sender_agent_id ON messages
            FOR EACH ROW WHEN (NEW.sender_agent_id IS NOT NULL)
            EXECUTE FUNCTION chat_message_agent_check();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'chat_agent_messages'
                      AND tgrelid = 'agents'::regclass) THEN
        CREATE CONSTRAINT TRIGGER chat_agent_messages AFTER DELETE OR UPDATE OF id ON agents
            FOR EACH ROW EXECUTE FUNCTION chat_agent_messages_check();
    END IF;
END
$$;
