-- functions/97_retention: deleting conversations for good: chat_retention's batches
-- (chat_retention_sweep, from a timer in every nginx worker) and one customer's erasure
-- (chat_erase_customer, `chatctl erase --email`), and the list of erased sessions and
-- conversations the workers poll to drop their cached copies and close their sockets
-- (chat_erasures_since).
--
-- Both delete conversations and nothing else of theirs by hand: every table that belongs to
-- a conversation references it (or its messages) ON DELETE CASCADE (021_retention checks it),
-- so a new such table is covered the day it is added; messages, whose key to conversations
-- went in 029_post_write_path (its check on every insert cost a customer post ~7-15 % of its
-- Postgres CPU), go with their conversations by the trigger chat_conversations_gone below,
-- whoever deletes them, and what references messages cascades from them.
--
-- Concurrency. The sweep runs on every worker of every node; pg_try_advisory_xact_lock
-- (chat_retention_lock_key) lets one transaction at a time do a batch and the others return
-- at once ("locked": false), so two nodes never delete the same batch twice nor wait for
-- each other. A batch is at most p_batch conversations, taken FOR UPDATE SKIP LOCKED (a
-- closed conversation someone is reading for a write, a rating say, waits for the next
-- batch), under lock_timeout 1s: it never waits for a lock for long, and holds its locks
-- for one batch of a bounded size. (A statement_timeout in the function's SET clause would
-- not bound the statement already running, so the size is the bound.) Only closed conversations go, and closed is terminal, so no write races
-- it: a write that finds its row deleted answers 404 as for any unknown conversation.
-- A customer left without conversations is deleted with their last one (SKIP LOCKED too: a
-- customer whose new conversation is being inserted keeps their row). One race is left: a
-- returning browser whose POST /session picks up its customer from a closed conversation
-- in the very batch that deletes both fails once (the foreign key) and its retry starts a
-- new customer.

CREATE OR REPLACE FUNCTION chat_retention_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120041::bigint $$;

-- One batch of retention: up to p_batch closed conversations whose closed_at is more than
-- p_keep_s seconds ago, oldest first, with everything of theirs (cascades), the customers
-- left with none, and the unmatched-question counts of days wholly before the cutoff;
-- erasures older than an hour are pruned. {"locked": true, "conversations": n,
-- "customers": n, "unmatched": n, "more": true when the batch was full}; {"locked": false}
-- when another transaction holds the lock.
CREATE OR REPLACE FUNCTION chat_retention_sweep(p_keep_s bigint, p_batch int)
RETURNS jsonb LANGUAGE plpgsql
SET lock_timeout = '1s'
AS $$
DECLARE
    cutoff timestamptz := clock_timestamp() - make_interval(secs => p_keep_s);
    n_conv int;
    n_cust int;
    n_unm int;
    sids text[];
    convs uuid[];
    custs uuid[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(chat_retention_lock_key()) THEN
        RETURN jsonb_build_object('locked', false);
    END IF;

    WITH doomed AS (
        SELECT id FROM conversations
         WHERE status = 'closed' AND closed_at < cutoff
         ORDER BY closed_at LIMIT p_batch
           FOR UPDATE SKIP LOCKED),
    gone AS (
        DELETE FROM conversations c USING doomed d WHERE c.id = d.id
        RETURNING c.id, c.session_id, c.customer_id)
    SELECT count(*), array_agg(session_id ORDER BY id), array_agg(id ORDER BY id),
           array_agg(DISTINCT customer_id) FILTER (WHERE customer_id IS NOT NULL)
      INTO n_conv, sids, convs, custs
      FROM gone;

    DELETE FROM customers WHERE id IN (
        SELECT k.id FROM customers k
         WHERE k.id = ANY (coalesce(custs, '{}'))
           AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = k.id)
           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n_cust = ROW_COUNT;

    DELETE FROM unmatched_counts WHERE ctid IN (
        SELECT ctid FROM unmatched_counts
         WHERE day < (cutoff AT TIME ZONE 'UTC')::date LIMIT p_batch);
    GET DIAGNOSTICS n_unm = ROW_COUNT;
    -- and questions of those days not folded yet (none while a worker folds every second)
    DELETE FROM unmatched_pending WHERE day < (cutoff AT TIME ZONE 'UTC')::date;

    INSERT INTO erasures (session_id, conversation_id)
    SELECT * FROM unnest(coalesce(sids, '{}'), coalesce(convs, '{}'));
    DELETE FROM erasures WHERE erased_at < clock_timestamp() - interval '1 hour';

    RETURN jsonb_build_object('locked', true, 'conversations', n_conv, 'customers', n_cust,
                              'unmatched', n_unm, 'more', n_conv >= p_batch);
END
$$;

-- `chatctl erase --email ADDRESS [--site SITE]`: every customer with that email (any case;
-- of one site, or of every site with p_site NULL), every conversation of theirs and of their
-- sessions (open ones too) with everything that references it, the unmatched-question
-- counts their fallback-answered questions added, and the customers. The customers are
-- locked first, so a conversation being opened for one of them either commits before (and
-- is erased) or fails. {"customers": n, "conversations": n, "<table>": n for every table
-- referencing conversations (messages, notes, bot_feedback, the outbox…), "ratings": n,
-- "unmatched": n, "sessions": [the sessions whose cached copies must go],
-- "conversation_ids": [the conversations whose sockets must close]}.
CREATE OR REPLACE FUNCTION chat_erase_customer(p_email text, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    custs uuid[];
    convs uuid[];
    sids text[];
    sids_of text[];  -- the session of each of convs, in its order
    out jsonb;
    fk record;
    n bigint;
    u record;
    total bigint;
BEGIN
    SELECT coalesce(array_agg(id), '{}') INTO custs FROM (
        SELECT id FROM customers
         WHERE lower(email) = lower(p_email) AND (p_site IS NULL OR site = p_site)
         ORDER BY id FOR UPDATE) k;

    SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(DISTINCT session_id), '{}'),
           coalesce(array_agg(session_id ORDER BY id), '{}')
      INTO convs, sids, sids_of
      FROM conversations
     WHERE customer_id = ANY (custs)
        OR session_id IN (SELECT session_id FROM conversations WHERE customer_id = ANY (custs));

    out := jsonb_build_object('customers', cardinality(custs), 'conversations', cardinality(convs),
                              'ratings', (SELECT count(*) FROM conversations
                                           WHERE id = ANY (convs) AND rating_score IS NOT NULL));

    -- every table that references conversations, counted under its own name
    FOR fk IN
        SELECT c.conrelid::regclass::text AS tab, a.attname AS col
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.confrelid = 'conversations'::regclass
           AND cardinality(c.conkey) = 1
         ORDER BY 1
    LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE %I = ANY ($1)', fk.tab, fk.col)
           INTO n USING convs;
        out := out || jsonb_build_object(fk.tab, n);
    END LOOP;
    -- messages have no key to conversations (029_post_write_path): counted here, deleted with
    -- their conversations by chat_conversations_gone
    out := out || jsonb_build_object('messages',
        (SELECT count(*) FROM messages WHERE conversation_id = ANY (convs)));

    -- the questions of theirs the bot could not answer, taken out of the reports' counts:
    -- every pending question folded first (waiting for a fold running elsewhere), so that the
    -- counts hold all of them
    PERFORM pg_advisory_xact_lock(72436, chat_unmatched_lock_key());
    PERFORM chat_unmatched_fold_locked(NULL);
    n := 0;
    FOR u IN
        SELECT c.site, (q.created_at AT TIME ZONE 'UTC')::date AS day,
               chat_unmatched_text(q.content) AS text, count(*) AS times
          FROM messages q
          JOIN messages b ON b.conversation_id = q.conversation_id AND b.seq = q.seq + 1
          JOIN conversations c ON c.id = q.conversation_id
         WHERE q.conversation_id = ANY (convs) AND q.sender_type = 'customer'
           AND b.sender_type = 'bot' AND b.metadata ? 'fallback'
         GROUP BY 1, 2, 3
    LOOP
        CONTINUE WHEN u.text IS NULL;
        -- the rows of every backend merged into one, less theirs (none left: no row)
        WITH d AS (
            DELETE FROM unmatched_counts
             WHERE site = u.site AND day = u.day AND text = u.text RETURNING count)
        SELECT coalesce(sum(count), 0) INTO total FROM d;
        IF total > u.times THEN
            INSERT INTO unmatched_counts (site, day, text, backend, count)
            VALUES (u.site, u.day, u.text, 0, total - u.times);
        END IF;
        n := n + least(total, u.times);
    END LOOP;
    out := out || jsonb_build_object('unmatched', n);

    DELETE FROM conversations WHERE id = ANY (convs);
    DELETE FROM customers WHERE id = ANY (custs);
    INSERT INTO erasures (session_id, conversation_id)
    SELECT session_id, id FROM unnest(convs, sids_of) AS e(id, session_id);
    DELETE FROM erasures WHERE erased_at < clock_timestamp() - interval '1 hour';

    RETURN out || jsonb_build_object('sessions', to_jsonb(sids), 'conversation_ids', to_jsonb(convs));
END
$$;

-- The sessions erased after p_after (an erasures id), oldest first, at most 1000 rows, and
-- their conversations (rows from before 023 name none): {"last": the last id returned
-- (p_after when none), "sessions": [...], "conversations": [...]}.
CREATE OR REPLACE FUNCTION chat_erasures_since(p_after bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('last', coalesce(max(id), p_after),
                              'sessions', coalesce(jsonb_agg(session_id ORDER BY id), '[]'),
                              'conversations', coalesce(jsonb_agg(conversation_id ORDER BY id)
                                                        FILTER (WHERE conversation_id IS NOT NULL), '[]'))
      FROM (SELECT id, session_id, conversation_id FROM erasures WHERE id > p_after ORDER BY id LIMIT 1000) e
$$;

-- Deleting conversations deletes their messages, whoever deletes them (retention, erasure, an
-- operator's DELETE): the ON DELETE CASCADE of the key to conversations that messages lost in
-- 029_post_write_path, once per statement (each message found by its unique (conversation_id,
-- seq) index), and at no cost to the inserts the key checked one by one.
CREATE OR REPLACE FUNCTION chat_conversations_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages m USING gone g WHERE m.conversation_id = g.id;
    RETURN NULL;
END
$$;

-- Created once (CREATE OR REPLACE TRIGGER would lock conversations against writes at every
-- migrate that applies this file).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'chat_conversations_gone'
                      AND tgrelid = 'conversations'::regclass) THEN
        CREATE TRIGGER chat_conversations_gone AFTER DELETE ON conversations
            REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION chat_conversations_gone();
    END IF;
END
$$;
