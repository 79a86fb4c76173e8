-- Customer conversations: the lifecycle's writes as SQL functions, each one
-- transaction and one round trip, returning the API's JSON (see API.md).
--
-- Every function that changes a conversation locks its row first (FOR UPDATE),
-- so seq is assigned gaplessly and in order however many workers and nodes post
-- at once. Errors are raised with SQLSTATEs the Postgres client maps to API
-- codes: CH404 not_found, CH409 invalid_state, CH422 validation.

ALTER TABLE conversations
    ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1;

-- RFC 3339 UTC with milliseconds, as every timestamp of the API.
CREATE OR REPLACE FUNCTION chat_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
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

-- Position in the agent queue: 1 for the oldest waiting conversation.
CREATE OR REPLACE FUNCTION chat_queue_position(c conversations) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.status = 'agent' AND c.assigned_agent_id IS NULL THEN
        (SELECT count(*)::int + 1 FROM conversations q
          WHERE q.status = 'agent' AND q.assigned_agent_id IS NULL
            AND (q.queued_at, q.id) < (c.queued_at, c.id))
    END
$$;

-- viewer: 'customer' counts unread agent/bot/system messages, 'agent' counts
-- unread customer messages.
CREATE OR REPLACE FUNCTION chat_conversation_json(c conversations, viewer text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id,
        'status', c.status,
        'assigned_agent', (SELECT jsonb_build_object('id', a.id,
                                                     'display_name', a.display_name)
                             FROM agents a WHERE a.id = c.assigned_agent_id),
        'queue_position', chat_queue_position(c),
        'context', c.context,
        'last_seq', c.last_seq,
        'unread_count', (SELECT count(*) FROM messages m
                          WHERE m.conversation_id = c.id AND m.read_at IS NULL
                            AND CASE WHEN viewer = 'customer'
                                     THEN m.sender_type <> 'customer'
                                     ELSE m.sender_type = 'customer' END),
        'created_at', chat_ts(c.created_at),
        'updated_at', chat_ts(c.updated_at),
        'requested_agent_at', chat_ts(c.requested_agent_at),
        'closed_at', chat_ts(c.closed_at),
        'version', c.version)
$$;

-- Messages with seq > after, ascending, at most lim.
CREATE OR REPLACE FUNCTION chat_messages_json(conv uuid, after int, lim int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(chat_message_json(m) ORDER BY m.seq), '[]'::jsonb)
      FROM (SELECT * FROM messages
             WHERE conversation_id = conv AND seq > after
             ORDER BY seq LIMIT lim) m
$$;

-- The last lim messages, ascending.
CREATE OR REPLACE FUNCTION chat_last_messages_json(conv uuid, lim int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(chat_message_json(m) ORDER BY m.seq), '[]'::jsonb)
      FROM (SELECT * FROM messages
             WHERE conversation_id = conv
             ORDER BY seq DESC LIMIT lim) m
$$;

-- Appends one message under the conversation's row lock (the caller holds it).
CREATE OR REPLACE FUNCTION chat_append(conv uuid, p_sender text, p_agent uuid,
    p_kind text, p_content text, p_metadata jsonb, p_client_id uuid)
RETURNS messages LANGUAGE plpgsql AS $$
DECLARE
    m messages;
BEGIN
    UPDATE conversations
       SET last_seq = last_seq + 1, updated_at = clock_timestamp(),
           version = version + 1
     WHERE id = conv;

    INSERT INTO messages (conversation_id, seq, sender_type, sender_agent_id,
                          kind, content, metadata, client_id, created_at)
    SELECT conv, c.last_seq, p_sender, p_agent, p_kind, p_content,
           coalesce(p_metadata, '{}'::jsonb), p_client_id, clock_timestamp()
      FROM conversations c WHERE c.id = conv
    RETURNING * INTO m;

    RETURN m;
END
$$;

-- The session's conversation: its open one, else (when allow_closed) its latest.
CREATE OR REPLACE FUNCTION chat_session_conversation(p_sid text, allow_closed bool)
RETURNS conversations LANGUAGE sql STABLE AS $$
    SELECT * FROM conversations
     WHERE session_id = p_sid AND (allow_closed OR status <> 'closed')
     ORDER BY (status <> 'closed') DESC, created_at DESC
     LIMIT 1
$$;

-- POST /session: the session's open conversation (context merged when given),
-- or a new automated one whose first message is the bot's greeting.
CREATE OR REPLACE FUNCTION chat_open_session(p_sid text, p_context jsonb,
    p_greeting text, p_history int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    created bool := false;
BEGIN
    SELECT * INTO c FROM conversations
     WHERE session_id = p_sid AND status <> 'closed'
     ORDER BY created_at DESC LIMIT 1
       FOR UPDATE;

    IF NOT FOUND THEN
        INSERT INTO conversations (session_id, context, created_at, updated_at)
        VALUES (p_sid, coalesce(p_context, '{}'::jsonb),
                clock_timestamp(), clock_timestamp())
        RETURNING * INTO c;
        PERFORM chat_append(c.id, 'bot', NULL, 'text', p_greeting,
                            '{"greeting": true}'::jsonb, NULL);
        created := true;

    ELSIF p_context IS NOT NULL AND p_context <> '{}'::jsonb
          AND NOT (c.context @> p_context) THEN
        UPDATE conversations
           SET context = context || p_context, updated_at = clock_timestamp(),
               version = version + 1
         WHERE id = c.id;
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_last_messages_json(c.id, p_history),
        'created', created);
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
    b messages;
    out jsonb;
BEGIN
    SELECT * INTO c FROM conversations
     WHERE session_id = p_sid
     ORDER BY (status <> 'closed') DESC, created_at DESC LIMIT 1
       FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'no conversation for this session' USING ERRCODE = 'CH404';
    END IF;

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

    m := chat_append(c.id, 'customer', NULL, p_kind, p_content, NULL, p_client_id);
    out := jsonb_build_array(chat_message_json(m));

    IF c.status = 'automated' AND p_bot_reply IS NOT NULL THEN
        b := chat_append(c.id, 'bot', NULL, 'text', p_bot_reply,
                         coalesce(p_bot_metadata, '{}'::jsonb)
                             || jsonb_build_object('in_reply_to', m.id),
                         NULL);
        out := out || jsonb_build_array(chat_message_json(b));
    END IF;

    SELECT * INTO c FROM conversations WHERE id = c.id;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', out, 'replayed', false);
END
$$;

-- POST /escalate is chat_escalate() in 003_agents.sql, next to the assignment it runs.

-- GET /conversation: the session's latest conversation and messages after a seq.
CREATE OR REPLACE FUNCTION chat_customer_conversation(p_sid text, p_after int,
    p_limit int)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c conversations;
BEGIN
    c := chat_session_conversation(p_sid, true);

    IF c.id IS NULL THEN
        RAISE EXCEPTION 'no conversation for this session' USING ERRCODE = 'CH404';
    END IF;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'messages', chat_messages_json(c.id, p_after, p_limit));
END
$$;

-- POST /read from the customer: agent, bot and system messages up to a seq.
CREATE OR REPLACE FUNCTION chat_customer_read(p_sid text, p_up_to int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n int;
BEGIN
    c := chat_session_conversation(p_sid, true);

    IF c.id IS NULL THEN
        RAISE EXCEPTION 'no conversation for this session' USING ERRCODE = 'CH404';
    END IF;

    UPDATE messages SET read_at = clock_timestamp()
     WHERE conversation_id = c.id AND seq <= p_up_to
       AND sender_type <> 'customer' AND read_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;

    IF n > 0 THEN
        UPDATE conversations SET version = version + 1,
               customer_last_read_seq = greatest(customer_last_read_seq, p_up_to)
         WHERE id = c.id
        RETURNING * INTO c;
    END IF;

    RETURN jsonb_build_object(
        'conversation', chat_conversation_json(c, 'customer'),
        'marked', n);
END
$$;

-- Active FAQ entries by display_order, with the keywords the matcher needs.
CREATE OR REPLACE FUNCTION chat_faq_json(with_inactive bool) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'slug', f.slug, 'question', f.question, 'answer', f.answer,
               'display_order', f.display_order, 'keywords', f.keywords,
               'is_active', f.is_active)
             ORDER BY f.display_order, f.slug), '[]'::jsonb)
      FROM faq_entries f
     WHERE with_inactive OR f.is_active
$$;
