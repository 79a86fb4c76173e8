-- functions/60_agent_views: the agent's reads (GET /agent/conversations with its views
-- and keyset pages, GET /agent/conversations/{id}), filtered by 20_access's visibility.

-- q=: the conversations with a message whose text matches tsq (may repeat one). The bot's
-- replies are not in messages_content_fts_idx (029_post_write_path): their texts are matched in
-- bot_texts and their messages found by the text's hashtextextended (messages_bot_text_hash_idx,
-- 033_indexes), then compared whole (a hash collision matches nothing); every other
-- message through messages_content_fts_idx, whose predicate the first branch repeats. Every
-- site's matches, all of them: what chat_agent_conversations reads for a rare word (search
-- first), never for a frequent one unless walking the view would cost more (full).
CREATE OR REPLACE FUNCTION chat_search_conversation_ids(tsq tsquery)
RETURNS SETOF uuid LANGUAGE sql STABLE AS $$
    SELECT m.conversation_id FROM messages m
     WHERE m.sender_type <> 'bot' AND to_tsvector('simple', m.content) @@ tsq
    UNION ALL
    SELECT m.conversation_id FROM bot_texts b
      JOIN messages m ON hashtextextended(m.content, 0) = hashtextextended(b.content, 0)
                     AND m.content = b.content AND m.sender_type = 'bot'
     WHERE to_tsvector('simple', b.content) @@ tsq
$$;

-- q=: about how many messages match tsq, from ANALYZE's statistics (no message read): the
-- planner ignores those of a partial index, which both of q='s are. Each word's share of the
-- messages in messages_content_fts_idx (its most common words; a word not among them, rare:
-- none), summed over the words tsq requires (an upper bound of an AND; a query of only -words
-- matches nearly everything: infinity), plus the bot's messages of each of p_bot (the bot texts
-- that match tsq) by their hash's share of messages_bot_text_hash_idx.
CREATE OR REPLACE FUNCTION chat_search_estimate(tsq tsquery, p_bot text[])
RETURNS float8 LANGUAGE sql STABLE AS $$
    WITH w AS (SELECT replace(x[2], '''''', '''') AS word, x[1] = '!' AS negated
                 FROM regexp_matches(tsq::text, '(!?)''((?:[^'']|'''')*)''', 'g') x),
         st AS (SELECT s.tablename AS relname,
                       (SELECT greatest(i.reltuples, 0) FROM pg_class i
                         WHERE i.oid = to_regclass(s.tablename)) AS n,
                       s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS elem_freqs,
                       s.most_common_vals::text::text[] AS vals, s.most_common_freqs AS freqs
                  FROM pg_stats s
                 WHERE s.tablename IN ('messages_content_fts_idx', 'messages_bot_text_hash_idx')
                   AND s.schemaname = (SELECT i.relnamespace::regnamespace::text FROM pg_class i
                                        WHERE i.oid = to_regclass('messages_content_fts_idx')))
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM w WHERE NOT w.negated) THEN 'infinity'::float8
           ELSE coalesce((SELECT sum(st.n * coalesce(st.elem_freqs[array_position(st.elems, w.word)], 0))
                            FROM w, st
                           WHERE NOT w.negated AND st.relname = 'messages_content_fts_idx'), 0)
                + coalesce((SELECT sum(st.n * coalesce(st.freqs[array_position(st.vals,
                                                           hashtextextended(b, 0)::text)], 0))
                              FROM unnest(p_bot) b, st
                             WHERE st.relname = 'messages_bot_text_hash_idx'), 0)
           END
$$;

-- q= one conversation at a time: whether p_conv has a message matching tsq, its messages read
-- through messages (conversation_id, seq) until one matches: a bot message when its text is one
-- of p_bot (the bot_texts that match tsq, as the second branch above), any other by its words.
-- What chat_agent_conversations tests a view's candidates with when a word is frequent.
CREATE OR REPLACE FUNCTION chat_conversation_matches(p_conv uuid, tsq tsquery, p_bot text[])
RETURNS bool LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM messages m
                    WHERE m.conversation_id = p_conv
                      AND CASE WHEN m.sender_type = 'bot' THEN m.content = ANY (p_bot)
                               ELSE to_tsvector('simple', m.content) @@ tsq END)
$$;

-- GET /agent/conversations, on the request's site only (p_site). Views: active (assigned to me, open), queue (unassigned,
-- oldest first; role agent: the queues they serve, chat_agent_serves; supervisor/admin: every queue of the site), closed (closed ones I handled; supervisor/admin: all), all (mine of any
-- status: the closed ones I handled and the open ones chat_agent_can_see shows me, never one
-- transferred to another agent; supervisor/admin: everyone's). Keyset pagination: queue is ordered by
-- (queued_at, id) ascending, the others by (updated_at DESC, id); the cursor is the last
-- item's key, (p_cur_us = epoch microseconds, p_cur_id), NULL for the first page.
-- Filters (API.md "Agent tools"; NULL: none, checked by core): p_tag (one of the tags),
-- p_department, p_priority, p_q (full-text search over message text: websearch syntax with
-- the 'simple' configuration; a query without a word is CH422 naming q).
-- q= is answered one of three ways, each exact (the same page and cursor), chosen per call so
-- that neither a frequent word nor a rare one reads the whole database (a word's matches are of
-- every site; the view keeps the request's site):
--   search first, when chat_search_estimate (ANALYZE's statistics) expects at most search_cap
--     matching messages: every matching conversation (chat_search_conversation_ids: the text's
--     GIN index and the bot's messages of the matching bot_texts), then the view filtered by
--     that set (c.id = ANY (found)). A rare word: few rows.
--   walk, when more (a frequent word, e.g. of the bot's fallback reply, in most conversations,
--     whose every match search first would read): the view's first 4 pages of candidates in
--     its order, without q, tested in that order until the page is full
--     (chat_conversation_matches: the conversation's messages by (conversation_id, seq)); then
--     further, as far as the matches so far say fills the page (half as far again to spare, at
--     least twice as far): the view's next candidates after the last one tested (its key as
--     the cursor), so that each candidate is read and tested once. Exact when the page filled
--     or the view had no more candidates.
--   full, when the walk would go past walk_max, the candidates whose messages cost about what
--     reading the estimated matches does (a word frequent in the database but rare in this
--     view, e.g. another site's): as search first. At most about twice what search first costs.
-- {"conversations": [Conversation + last_message], "next": {"us", "id"} | null}
CREATE OR REPLACE FUNCTION chat_agent_conversations(p_agent uuid, p_role text,
    p_view text, p_limit int, p_cur_us bigint, p_cur_id uuid, p_site text,
    p_tag text DEFAULT NULL, p_department uuid DEFAULT NULL, p_priority text DEFAULT NULL,
    p_q text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    boss bool := p_role IN ('supervisor', 'admin');
    cur timestamptz := to_timestamp(0) + p_cur_us * interval '1 microsecond';
    tsq tsquery;
    search_cap constant int := 5000;   -- matching messages (estimated) searched first
    estimate float8;                   -- matching messages, chat_search_estimate
    walk_max float8;                   -- candidates a walk tests at most
    bot text[];                        -- the bot_texts that match tsq
    found uuid[];                      -- search first, full: every matching conversation
    walking bool := false;
    cur_id uuid := p_cur_id;           -- the view query's cursor (walk: its last candidate)
    lim int := p_limit + 1;            -- the view query's LIMIT (walk: its new candidates)
    walked int := 0;                   -- walk: the candidates tested
    reach float8;                      -- walk: how far it goes next (candidates from the start)
    n int;
    hits uuid[] := '{}';               -- walk: the ones that match, in order
    hit_keys bigint[] := '{}';
    ids uuid[];
    keys bigint[];
    wrote uuid[];
    more bool;
    items jsonb;
BEGIN
    IF p_view NOT IN ('active', 'queue', 'closed', 'all') THEN
        RAISE EXCEPTION 'view must be active, queue, closed or all' USING ERRCODE = 'CH422';
    END IF;
    IF p_q IS NOT NULL THEN
        tsq := websearch_to_tsquery('simple', p_q);
        IF numnode(tsq) = 0 THEN
            RAISE EXCEPTION 'q must contain a word to search for' USING ERRCODE = 'CH422';
        END IF;
        bot := ARRAY(SELECT b.content FROM bot_texts b WHERE to_tsvector('simple', b.content) @@ tsq);
        estimate := chat_search_estimate(tsq, bot);
        IF estimate > search_cap THEN
            walking := true;
            lim := 4 * (p_limit + 1);
            -- testing a candidate reads its messages (to_tsvector of each), the full search
            -- each match once: a walk goes at most as far as costs what the full search would,
            -- a message tested counted as 8 matches read (measured 3-14x on the bench data)
            walk_max := greatest(lim, estimate / 8
                                      / (SELECT greatest(m.reltuples, 1) / greatest(c.reltuples, 1)
                                           FROM pg_class m, pg_class c
                                          WHERE m.oid = 'messages'::regclass
                                            AND c.oid = 'conversations'::regclass));
        ELSE
            found := ARRAY(SELECT DISTINCT s FROM chat_search_conversation_ids(tsq) s);
        END IF;
    END IF;

    IF NOT boss AND p_view IN ('closed', 'all') THEN
        -- the agent's closed and all views: the conversations the agent wrote in and is not
        -- assigned (below), once for every query of the walk
        wrote := ARRAY(SELECT m.conversation_id FROM messages m WHERE m.sender_agent_id = p_agent
                       EXCEPT
                       SELECT x.id FROM conversations x WHERE x.assigned_agent_id = p_agent);
    END IF;

    LOOP
        IF p_view = 'queue' THEN
            SELECT array_agg(id ORDER BY queued_at, id),
                   array_agg((extract(epoch FROM queued_at) * 1000000)::bigint ORDER BY queued_at, id)
              INTO ids, keys
              FROM (SELECT id, queued_at FROM conversations
                     WHERE site = p_site AND status = 'agent' AND assigned_agent_id IS NULL
                       AND (boss OR department_id IS NULL
                            OR department_id IN (SELECT m.department_id FROM department_agents m
                                                  WHERE m.agent_id = p_agent))
                       AND (cur IS NULL OR (queued_at, id) > (cur, cur_id))
                       AND (p_tag IS NULL OR tags @> ARRAY[p_tag])
                       AND (p_department IS NULL OR department_id = p_department)
                       AND (p_priority IS NULL OR priority = p_priority)
                       AND (found IS NULL OR id = ANY (found))
                     ORDER BY queued_at, id
                     LIMIT lim) q;
        ELSIF NOT boss AND p_view IN ('closed', 'all') THEN
            -- an agent's closed and all views start from what the agent handled, not from every
            -- conversation of the site newest first (an agent who handled few chats of a busy shop
            -- would scan all of them): the conversations assigned to the agent (closed ones, or of
            -- any status but automated: 'agent' and 'closed', the only ones an assigned conversation
            -- has), through conversations_agent_idx (033_indexes), and the ones the agent wrote in
            -- and is not assigned (transferred, requeued: messages_sender_agent_conversation_idx and
            -- conversations_agent_idx, index-only), each conversation in one branch. No index holds
            -- updated_at (030_hot_post_update): all of them are sorted in memory, (updated_at DESC,
            -- id) as every view, the cursor a bound on that key.
            SELECT array_agg(id ORDER BY updated_at DESC, id),
                   array_agg((extract(epoch FROM updated_at) * 1000000)::bigint ORDER BY updated_at DESC, id)
              INTO ids, keys
              FROM (SELECT c.id, c.updated_at
                      FROM (SELECT * FROM conversations WHERE assigned_agent_id = p_agent
                            UNION ALL
                            SELECT * FROM conversations WHERE id = ANY (wrote)) c
                     WHERE c.status = ANY (CASE p_view WHEN 'closed' THEN '{closed}'::text[]
                                                       ELSE '{agent,closed}'::text[] END)
                       -- an open one only while chat_agent_can_see shows it: theirs, or in a
                       -- queue they serve -- never one handed on to another agent
                       AND (c.status = 'closed' OR c.assigned_agent_id = p_agent
                            OR (c.assigned_agent_id IS NULL AND chat_agent_serves(c, p_agent)))
                       AND c.site = p_site
                       AND (cur IS NULL OR c.updated_at < cur
                            OR (c.updated_at = cur AND c.id > cur_id))
                       AND (p_tag IS NULL OR c.tags @> ARRAY[p_tag])
                       AND (p_department IS NULL OR c.department_id = p_department)
                       AND (p_priority IS NULL OR c.priority = p_priority)
                       AND (found IS NULL OR c.id = ANY (found))
                     ORDER BY c.updated_at DESC, c.id
                     LIMIT lim) q;
        ELSE
            -- the site newest first (and an agent's own active chats, few: conversations_agent_idx
            -- and a sort). No index of conversations holds updated_at or its minute, so that a
            -- customer's post is a HOT update (030_hot_post_update, 034_conversation_minutes):
            -- conversation_minutes_site_minute_idx gives the site's conversations by updated_minute
            -- (chat_minute(updated_at), the narrow row every writer of updated_at keeps) newest
            -- first, each joined to its conversation by id, and ordering by (updated_minute DESC,
            -- updated_at DESC, id) is ordering by (updated_at DESC, id), since updated_minute never
            -- decreases as updated_at grows: an Incremental Sort sorts one minute's conversations at
            -- a time until the page is full. A later page starts at its cursor's minute: updated_at
            -- <= cur implies updated_minute <= cur.
            SELECT array_agg(id ORDER BY updated_at DESC, id),
                   array_agg((extract(epoch FROM updated_at) * 1000000)::bigint ORDER BY updated_at DESC, id)
              INTO ids, keys
              FROM (SELECT c.id, c.updated_at
                      FROM conversation_minutes r
                      JOIN conversations c ON c.id = r.id
                     WHERE r.site = p_site
                       AND r.updated_minute <= coalesce(cur, 'infinity')
                       AND (cur IS NULL OR c.updated_at < cur
                            OR (c.updated_at = cur AND c.id > cur_id))
                       AND CASE p_view
                           WHEN 'active' THEN c.status = 'agent' AND c.assigned_agent_id = p_agent
                           WHEN 'closed' THEN c.status = 'closed'
                                              AND (boss OR chat_agent_handled(c, p_agent))
                           ELSE boss OR (c.status <> 'automated' AND chat_agent_handled(c, p_agent))
                           END
                       AND (p_tag IS NULL OR c.tags @> ARRAY[p_tag])
                       AND (p_department IS NULL OR c.department_id = p_department)
                       AND (p_priority IS NULL OR c.priority = p_priority)
                       AND (found IS NULL OR c.id = ANY (found))
                     ORDER BY r.updated_minute DESC, c.updated_at DESC, c.id
                     LIMIT lim) q;
        END IF;
        EXIT WHEN NOT walking;
        -- walk: the new candidates, in the view's order (the ordinality's: no sort, the LIMIT
        -- stops the tests), until the page is full
        n := coalesce(cardinality(ids), 0);
        SELECT hits || coalesce(array_agg(x.id ORDER BY x.ord), '{}'),
               hit_keys || coalesce(array_agg(x.key ORDER BY x.ord), '{}')
          INTO hits, hit_keys
          FROM (SELECT u.id, u.key, u.ord FROM unnest(ids, keys) WITH ORDINALITY AS u(id, key, ord)
                 WHERE chat_conversation_matches(u.id, tsq, bot)
                 ORDER BY u.ord
                 LIMIT p_limit + 1 - cardinality(hits)) x;
        IF cardinality(hits) > p_limit OR n < lim THEN
            ids := hits;        -- the page is full, or the view has no more candidates
            keys := hit_keys;
            EXIT;
        END IF;
        -- on, as far as the matches so far say fills the page with half as many again to spare,
        -- at least twice as far, from the last candidate tested (the view's key: a later page's
        -- cursor); past walk_max, full (from the request's cursor). A key without a time (a
        -- queued conversation without queued_at, last in the queue's order) cannot be a cursor:
        -- full too.
        walked := walked + n;
        reach := least(greatest(2 * walked,
                                ceil(1.5 * walked * (p_limit + 1) / greatest(cardinality(hits), 1))),
                       1000000000);
        IF reach > walk_max OR keys[n] IS NULL THEN
            walking := false;
            found := ARRAY(SELECT DISTINCT s FROM chat_search_conversation_ids(tsq) s);
            cur := to_timestamp(0) + p_cur_us * interval '1 microsecond';
            cur_id := p_cur_id;
            lim := p_limit + 1;
        ELSE
            cur := to_timestamp(0) + keys[n] * interval '1 microsecond';
            cur_id := ids[n];
            lim := reach - walked;
        END IF;
    END LOOP;

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

-- GET /agent/conversations/{id}: {"conversation", "messages", "notes", "history"} (seq > after,
-- at most lim; notes: the latest 200 private notes, oldest first (55_notes); history: the customer's 20
-- latest earlier conversations).
CREATE OR REPLACE FUNCTION chat_agent_conversation(p_agent uuid, p_role text,
    p_conv uuid, p_after int, p_limit int, p_site text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c conversations;
BEGIN
    SELECT * INTO c FROM conversations WHERE id = p_conv;
    IF NOT FOUND OR NOT chat_agent_can_see(c, p_agent, p_role, p_site) THEN
        RAISE EXCEPTION 'conversation not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'agent'),
        'messages', chat_messages_json(c.id, p_after, p_limit),
        'notes', chat_notes_json(c.id),
        -- the customer's earlier conversations (API.md "Agent tools"), newest first
        'history', (SELECT coalesce(jsonb_agg(chat_conversation_json(h, 'agent') ORDER BY h.created_at DESC), '[]'::jsonb)
                      FROM (SELECT * FROM conversations
                             WHERE customer_id = c.customer_id AND id <> c.id AND created_at < c.created_at
                             ORDER BY created_at DESC LIMIT 20) h));
END
$$;

-- GET /agent/agents: every agent of the site who is not deleted, by display name: any
-- agent's dashboard picks a colleague to transfer to from it. {"agents": [Agent]}
CREATE OR REPLACE FUNCTION chat_agent_colleagues(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('agents', coalesce(jsonb_agg(chat_agent_json(a)
               ORDER BY lower(a.display_name), a.id), '[]'::jsonb))
      FROM agents a
     WHERE a.deleted_at IS NULL AND a.sites @> ARRAY[p_site]
$$;
