-- functions/30_session: a customer's session and its conversation (POST /session, GET
-- /conversation), and the session's conversation as every customer write finds it.
--
-- Errors are raised with SQLSTATEs the Postgres client maps to API codes: CH404
-- not_found, CH409 invalid_state, CH422 validation.

-- The session's conversation as every customer request but POST /session finds it: its
-- open one, else its latest; row-locked for a write when p_lock. CH404 when it has none.
CREATE OR REPLACE FUNCTION chat_session_conv(p_sid text, p_lock bool)
RETURNS conversations LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
BEGIN
    IF p_lock THEN
        SELECT * INTO c FROM conversations
         WHERE session_id = p_sid
         ORDER BY (status <> 'closed') DESC, created_at DESC LIMIT 1
           FOR UPDATE;
    ELSE
        SELECT * INTO c FROM conversations
         WHERE session_id = p_sid
         ORDER BY (status <> 'closed') DESC, created_at DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no conversation for this session' USING ERRCODE = 'CH404';
    END IF;
    RETURN c;
END
$$;

-- POST /session: the session's open conversation (context merged when given),
-- or a new automated one of the request's site whose first message is the bot's
-- greeting. A session id is random and its token is bound to the site (core checks
-- the token's site on every request), so a session's conversations are all of one site.
CREATE OR REPLACE FUNCTION chat_open_session(p_sid text, p_context jsonb,
    p_greeting text, p_history int, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    created bool := false;
    customer uuid;
BEGIN
    SELECT * INTO c FROM conversations
     WHERE session_id = p_sid AND status <> 'closed'
     ORDER BY created_at DESC LIMIT 1
       FOR UPDATE;

    IF NOT FOUND THEN
        -- the session's customer (a returning browser after a closed chat), else a new one
        SELECT customer_id INTO customer FROM conversations
         WHERE session_id = p_sid AND customer_id IS NOT NULL
         ORDER BY created_at DESC LIMIT 1;
        IF customer IS NULL THEN
            INSERT INTO customers (site) VALUES (p_site) RETURNING id INTO customer;
        END IF;
        -- a time-ordered id (chat_uuid7): each post updates its conversation (never HOT) and
        -- indexes messages by it, so the busy ones' index entries sit together at the right edge
        INSERT INTO conversations (id, session_id, site, customer_id, context, created_at, updated_at)
        VALUES (chat_uuid7(), p_sid, p_site, customer, coalesce(p_context, '{}'::jsonb),
                clock_timestamp(), clock_timestamp())
        RETURNING * INTO c;
        INSERT INTO conversation_minutes (id, site, updated_minute)
        VALUES (c.id, c.site, chat_minute(c.updated_at));
        PERFORM chat_append(c.id, 'bot', NULL, 'text', p_greeting,
                            '{"greeting": true}'::jsonb, NULL);
        created := true;

    ELSIF p_context IS NOT NULL AND p_context <> '{}'::jsonb
          AND NOT (c.context @> p_context) THEN
        UPDATE conversations
           SET context = context || p_context, updated_at = clock_timestamp(),
               version = version + 1
         WHERE id = c.id;
        PERFORM chat_minute_touch(c.id);
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_last_messages_json(c.id, p_history),
        'created', created);
END
$$;

-- GET /conversation: the session's latest conversation and messages after a seq.
CREATE OR REPLACE FUNCTION chat_customer_conversation(p_sid text, p_after int,
    p_limit int)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c conversations;
BEGIN
    c := chat_session_conv(p_sid, false);

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_messages_json(c.id, p_after, p_limit));
END
$$;

-- POST /identify: the name and/or email of the session's customer (validated by core; a
-- NULL leaves that field as it is). A conversation made before customers existed gets
-- one. {"conversation"}
CREATE OR REPLACE FUNCTION chat_customer_identify(p_sid text, p_name text, p_email text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    customer uuid;
BEGIN
    c := chat_session_conv(p_sid, true);
    customer := c.customer_id;
    IF customer IS NULL THEN
        INSERT INTO customers (site) VALUES (c.site) RETURNING id INTO customer;
    END IF;
    UPDATE customers SET name = coalesce(p_name, name), email = coalesce(p_email, email),
           updated_at = clock_timestamp()
     WHERE id = customer;
    UPDATE conversations SET customer_id = customer, version = version + 1,
           updated_at = clock_timestamp()
     WHERE id = c.id
    RETURNING * INTO c;
    PERFORM chat_minute_touch(c.id);
    RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'customer'),
                              'unread', chat_unread_json(c));
END
$$;
