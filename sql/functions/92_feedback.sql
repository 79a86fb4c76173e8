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
-- chat_customer_post_batch, only then), each with its conversation's site, counted per site and
-- day in the poster's transaction, in this backend's row (no lock shared with another
-- connection's post of the same question). One statement however many: the same question twice
-- is added up first (one INSERT .. ON CONFLICT cannot touch a row twice).
CREATE OR REPLACE FUNCTION chat_count_unmatched(p_sites text[], p_texts text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unmatched_questions AS u (site, day, text, backend, count)
    SELECT q.site, (clock_timestamp() AT TIME ZONE 'UTC')::date, q.t, pg_backend_pid(), count(*)
      FROM (SELECT x.site, chat_unmatched_text(x.t) AS t
              FROM unnest(p_sites, p_texts) x(site, t)) q
     WHERE q.t IS NOT NULL
     GROUP BY 1, 2, 3
        ON CONFLICT (site, day, text, backend) DO UPDATE SET count = u.count + excluded.count;
END
$$;
