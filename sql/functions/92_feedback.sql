-- functions/92_feedback: what customers tell the shop after the fact (API.md "After close",
-- "Bot feedback") and the questions the bot could not answer (the reports' "unmatched").
--
-- Errors: CH404 not_found, CH409 invalid_state (as 30_session).

-- POST /rating: the session's conversation, once it is closed, rated once (score 1..5 and
-- the comment checked by core). {"conversation"}
CREATE OR REPLACE FUNCTION chat_customer_rate(p_sid text, p_score int, p_comment text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
BEGIN
    c := chat_session_conv(p_sid, true);
    IF c.status <> 'closed' THEN
        RAISE EXCEPTION 'conversation is %', c.status USING ERRCODE = 'CH409';
    END IF;
    IF c.rating_score IS NOT NULL THEN
        RAISE EXCEPTION 'conversation is already rated' USING ERRCODE = 'CH409';
    END IF;
    UPDATE conversations
       SET rating_score = p_score, rating_comment = p_comment, rated_at = clock_timestamp(),
           version = version + 1, updated_at = clock_timestamp()
     WHERE id = c.id
    RETURNING * INTO c;
    PERFORM chat_minute_touch(c.id);
    RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'customer'),
                              'unread', chat_unread_json(c));
END
$$;

-- POST /feedback: helpful or not, once per bot answer (a bot message answering the
-- customer: metadata in_reply_to) of one of the session's conversations; the FAQ entry
-- that answered is the message's metadata "faq" (NULL for the fallback). Nothing else
-- changes: the answer is 204.
CREATE OR REPLACE FUNCTION chat_customer_feedback(p_sid text, p_message uuid, p_helpful bool)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    mid uuid;
    conv uuid;
    slug text;
    conv_site text;
BEGIN
    SELECT m.id, m.conversation_id, m.metadata->>'faq', c.site INTO mid, conv, slug, conv_site
      FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE m.id = p_message AND c.session_id = p_sid
       AND m.sender_type = 'bot' AND m.metadata ? 'in_reply_to';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such bot answer' USING ERRCODE = 'CH404';
    END IF;
    INSERT INTO bot_feedback (message_id, conversation_id, site, faq_slug, helpful, created_at)
    VALUES (mid, conv, conv_site, slug, p_helpful, clock_timestamp())
    ON CONFLICT (message_id) DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this answer already has feedback' USING ERRCODE = 'CH409';
    END IF;
    RETURN jsonb_build_object('conversation_id', conv);
END
$$;

-- The normal form of a question the bot could not answer: trimmed, lower case, every run of
-- white space one space, at most 200 characters. NULL when nothing is left.
CREATE OR REPLACE FUNCTION chat_unmatched_text(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(left(btrim(regexp_replace(lower(p_text), '\s+', ' ', 'g')), 200)), '')
$$;

-- Customer questions the bot answered with its fallback (chat_customer_post and
-- chat_customer_post_batch_v2, only then) are appended as posted to unmatched_pending in the
-- poster's transaction (035_unmatched_pending: a heap row, nothing normalised, no row shared
-- with another connection's post); the reports read them at once through the view
-- unmatched_questions. The fold moves them into unmatched_counts, normalised and added up per
-- site, day and text (backend 0: one folder at a time, no row shared with a poster), in one
-- statement: the rows it deletes are the rows it counts (DELETE .. RETURNING into the upsert),
-- so each question is counted once, committed or not at all. At most p_max rows a call (NULL:
-- all). One folder at a time per schema (the lock:
-- others would wait for its rows): chat_unmatched_fold answers -1 when the lock is taken, else
-- the rows folded; chat_unmatched_fold_locked is for a caller that holds it (the erasure). The
-- lock's key is (72436, the pending table's oid): each schema of the chat its own (the core
-- tests'); looked up when called (to_regclass), so that this file applies before 035 too.
CREATE OR REPLACE FUNCTION chat_unmatched_lock_key() RETURNS int
LANGUAGE sql STABLE AS $$ SELECT to_regclass('unmatched_pending')::oid::int $$;

CREATE OR REPLACE FUNCTION chat_unmatched_fold_locked(p_max int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    WITH d AS (
        DELETE FROM unmatched_pending p
         WHERE p.ctid = ANY (ARRAY(SELECT ctid FROM unmatched_pending LIMIT p_max))
        RETURNING p.site, p.day, p.content),
    -- the same question as posted added up first: one normal form (a regexp) per distinct text
    -- (MATERIALIZED: else the filter on the normal form below is pushed under the GROUP BY, a
    -- regexp a row again)
    raw AS MATERIALIZED (
        SELECT d.site, d.day, d.content, count(*) AS n FROM d GROUP BY 1, 2, 3),
    ins AS (
        INSERT INTO unmatched_counts AS u (site, day, text, backend, count)
        SELECT x.site, x.day, x.text, 0, sum(x.n)
          FROM (SELECT r.site, r.day, chat_unmatched_text(r.content) AS text, r.n FROM raw r) x
         WHERE x.text IS NOT NULL
         GROUP BY 1, 2, 3
            ON CONFLICT (site, day, text, backend) DO UPDATE SET count = u.count + excluded.count)
    SELECT count(*) INTO n FROM d;
    RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION chat_unmatched_fold(p_max int) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(72436, chat_unmatched_lock_key()) THEN
        RETURN -1;
    END IF;
    RETURN chat_unmatched_fold_locked(p_max);
END
$$;

-- unmatched_questions, what readers see (the reports, retention, a backfill): the counts and the
-- pending questions, these normalised (chat_unmatched_text: one normal form for the view and the
-- fold) and added up per (site, day, text, backend): as posted first, a regexp per distinct text
-- (OFFSET 0: else the filter on the normal form is pushed under that GROUP BY, a regexp a row),
-- then per normal form. A key may have a row of each part; readers add them up, as they add up
-- the rows of several backends. An INSERT into the view writes the counts (backend 0 and count 1
-- unless given); the CHECKs are the table's. Created here, once (the view depends on
-- chat_unmatched_text, so it goes with it if the functions are dropped, and comes back with them;
-- sql/035_unmatched_pending.sql made the tables; before it, nothing).
CREATE OR REPLACE FUNCTION chat_unmatched_questions_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unmatched_counts (site, day, text, backend, count)
    VALUES (NEW.site, NEW.day, NEW.text, coalesce(NEW.backend, 0), coalesce(NEW.count, 1));
    RETURN NEW;
END
$$;

DO $$
BEGIN
    -- a schema before 035 (its unmatched_questions a table) has nothing to do here
    IF to_regclass('unmatched_pending') IS NULL THEN
        RETURN;
    END IF;
    IF to_regclass('unmatched_questions') IS NULL THEN
        CREATE VIEW unmatched_questions AS
        SELECT site, day, text, backend, count FROM unmatched_counts
        UNION ALL
        SELECT site, day, text, backend, sum(n)::bigint
          FROM (SELECT site, day, backend, chat_unmatched_text(content) AS text, n
                  FROM (SELECT site, day, backend, content, count(*) AS n
                          FROM unmatched_pending GROUP BY site, day, backend, content OFFSET 0) r) p
         WHERE text IS NOT NULL
         GROUP BY site, day, text, backend;
        COMMENT ON VIEW unmatched_questions IS 'Questions the FAQ bot could not answer, per site and day (reports "unmatched"): the counts and the pending questions.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'unmatched_questions_insert'
                      AND tgrelid = 'unmatched_questions'::regclass) THEN
        CREATE TRIGGER unmatched_questions_insert INSTEAD OF INSERT ON unmatched_questions
            FOR EACH ROW EXECUTE FUNCTION chat_unmatched_questions_insert();
    END IF;
END
$$;
