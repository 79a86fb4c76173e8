-- functions/97_webhooks: webhooks (API.md "Webhooks (transactional outbox)"): the outbox
-- triggers that record every durable event in the transaction of its change, the admin API,
-- and the sender's claim and completion.
--
-- Where events come from: every write of a conversation goes through the tables below, so the
-- triggers cover every path (customer posts and the set-based batch, escalate, assignment and
-- the sweep, claim, transfer, close, requeue, PATCH, notes, identify, rating, presence):
--   messages INSERT        message.created; conversation.offline_reply (an agent's message
--                          in an offline conversation)
--   conversations UPDATE   agent.assigned (a new agent), chat.closed (to closed),
--                          conversation.rated (rated), conversation.updated (anything a
--                          Conversation shows changed; read receipts alone do not count)
--   notes INSERT           note.created
--   agents UPDATE          agent.presence.changed (presence changed; one row per site of the
--                          agent that has a webhook for it)
-- typing and read are not durable and never reach the outbox. The triggers exist only while a
-- webhook exists (chat_webhook_triggers), and each looks up the site's subscribed types
-- first: a site without webhooks writes nothing.

-- The event types a webhook may subscribe to (limits.h kWebhookEvents says the same).
CREATE OR REPLACE FUNCTION chat_webhook_event_types() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['message.created', 'conversation.updated', 'agent.assigned', 'chat.closed',
                 'agent.presence.changed', 'note.created', 'conversation.offline_reply',
                 'conversation.rated']
$$;

-- The types some webhook of the site wants; NULL when none.
CREATE OR REPLACE FUNCTION chat_webhook_types(p_site text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT e) FROM webhooks w, unnest(w.events) e WHERE w.site = p_site
$$;

-- One event into the outbox and a delivery for each webhook of the site that wants it.
CREATE OR REPLACE FUNCTION chat_outbox_add(p_site text, p_conv uuid, p_order uuid, p_type text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ob bigint;
BEGIN
    INSERT INTO outbox (site, conversation_id, type, data)
    VALUES (p_site, p_conv, p_type, p_data)
    RETURNING id INTO ob;
    INSERT INTO webhook_deliveries (webhook_id, outbox_id, order_key)
    SELECT w.id, ob, p_order FROM webhooks w WHERE w.site = p_site AND p_type = ANY (w.events);
END
$$;

CREATE OR REPLACE FUNCTION chat_outbox_message() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    want text[];
BEGIN
    SELECT * INTO c FROM conversations WHERE id = NEW.conversation_id;
    want := chat_webhook_types(c.site);
    IF want IS NULL THEN
        RETURN NULL;
    END IF;
    IF 'message.created' = ANY (want) THEN
        PERFORM chat_outbox_add(c.site, c.id, c.id, 'message.created', chat_message_json(NEW));
    END IF;
    IF NEW.sender_type = 'agent' AND c.offline AND 'conversation.offline_reply' = ANY (want) THEN
        PERFORM chat_outbox_add(c.site, c.id, c.id, 'conversation.offline_reply',
                                jsonb_build_object('conversation', chat_conversation_json(c, 'customer'),
                                                   'message', chat_message_json(NEW)));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION chat_outbox_conversation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    want text[];
    conv jsonb;
BEGIN
    want := chat_webhook_types(NEW.site);
    IF want IS NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.assigned_agent_id IS NOT NULL AND NEW.assigned_agent_id IS DISTINCT FROM OLD.assigned_agent_id
       AND 'agent.assigned' = ANY (want) THEN
        PERFORM chat_outbox_add(NEW.site, NEW.id, NEW.id, 'agent.assigned',
                                (SELECT jsonb_build_object('agent', jsonb_build_object('id', a.id, 'display_name', a.display_name),
                                                           'conversation_id', NEW.id)
                                   FROM agents a WHERE a.id = NEW.assigned_agent_id));
    END IF;
    IF NOT (want && ARRAY['conversation.updated', 'chat.closed', 'conversation.rated']) THEN
        RETURN NULL;
    END IF;
    IF (NEW.status, NEW.assigned_agent_id, NEW.department_id, NEW.priority, NEW.tags, NEW.context,
        NEW.customer_id, NEW.offline, NEW.rating_score, NEW.rating_comment, NEW.last_seq,
        NEW.requested_agent_at, NEW.closed_at)
       IS DISTINCT FROM
       (OLD.status, OLD.assigned_agent_id, OLD.department_id, OLD.priority, OLD.tags, OLD.context,
        OLD.customer_id, OLD.offline, OLD.rating_score, OLD.rating_comment, OLD.last_seq,
        OLD.requested_agent_at, OLD.closed_at)
       OR (NEW.version <> OLD.version AND NEW.customer_last_read_seq = OLD.customer_last_read_seq
           AND NEW.agent_last_read_seq = OLD.agent_last_read_seq
           AND NEW.customer_unread = OLD.customer_unread AND NEW.agent_unread = OLD.agent_unread) THEN
        conv := chat_conversation_json(NEW, 'customer');
        IF 'conversation.updated' = ANY (want) THEN
            PERFORM chat_outbox_add(NEW.site, NEW.id, NEW.id, 'conversation.updated', conv);
        END IF;
        IF NEW.status = 'closed' AND OLD.status <> 'closed' AND 'chat.closed' = ANY (want) THEN
            PERFORM chat_outbox_add(NEW.site, NEW.id, NEW.id, 'chat.closed', conv);
        END IF;
        IF NEW.rating_score IS NOT NULL AND OLD.rating_score IS NULL AND 'conversation.rated' = ANY (want) THEN
            PERFORM chat_outbox_add(NEW.site, NEW.id, NEW.id, 'conversation.rated', conv);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION chat_outbox_note() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    SELECT site INTO s FROM conversations WHERE id = NEW.conversation_id;
    IF 'note.created' = ANY (coalesce(chat_webhook_types(s), '{}')) THEN
        PERFORM chat_outbox_add(s, NEW.conversation_id, NEW.conversation_id, 'note.created', chat_note_json(NEW));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION chat_outbox_presence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s text;
    data jsonb;
BEGIN
    FOREACH s IN ARRAY NEW.sites LOOP
        IF 'agent.presence.changed' = ANY (coalesce(chat_webhook_types(s), '{}')) THEN
            data := coalesce(data, chat_agent_json(NEW));
            PERFORM chat_outbox_add(s, NULL, NEW.id, 'agent.presence.changed', data);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- Installs the outbox triggers while some webhook exists, drops them when none is left.
-- Called under the webhooks table lock of the admin functions below (SHARE ROW EXCLUSIVE:
-- one webhook change at a time), so a create and a delete never leave the triggers out of
-- step with the table. CREATE OR REPLACE TRIGGER waits for the writes in flight on those
-- tables and holds new ones back for that instant: an admin action, rare.
CREATE OR REPLACE FUNCTION chat_webhook_triggers() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks) THEN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'chat_outbox_messages'
                          AND tgrelid = 'messages'::regclass) THEN
            EXECUTE 'CREATE TRIGGER chat_outbox_messages AFTER INSERT ON messages'
                    ' FOR EACH ROW EXECUTE FUNCTION chat_outbox_message()';
            EXECUTE 'CREATE TRIGGER chat_outbox_conversations AFTER UPDATE ON conversations'
                    ' FOR EACH ROW EXECUTE FUNCTION chat_outbox_conversation()';
            EXECUTE 'CREATE TRIGGER chat_outbox_notes AFTER INSERT ON notes'
                    ' FOR EACH ROW EXECUTE FUNCTION chat_outbox_note()';
            EXECUTE 'CREATE TRIGGER chat_outbox_agents AFTER UPDATE OF presence ON agents'
                    ' FOR EACH ROW WHEN (OLD.presence IS DISTINCT FROM NEW.presence)'
                    ' EXECUTE FUNCTION chat_outbox_presence()';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'chat_outbox_messages'
                     AND tgrelid = 'messages'::regclass) THEN
        EXECUTE 'DROP TRIGGER chat_outbox_messages ON messages';
        EXECUTE 'DROP TRIGGER chat_outbox_conversations ON conversations';
        EXECUTE 'DROP TRIGGER chat_outbox_notes ON notes';
        EXECUTE 'DROP TRIGGER chat_outbox_agents ON agents';
    END IF;
END
$$;

-- Webhook = {"id", "url", "events", "created_at", "last_delivered_at", "last_error", "backlog"};
-- the secret never leaves the database through the API.
CREATE OR REPLACE FUNCTION chat_webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', w.id, 'url', w.url, 'events', to_jsonb(w.events),
                              'created_at', chat_ts(w.created_at),
                              'last_delivered_at', chat_ts(w.last_delivered_at),
                              'last_error', w.last_error,
                              'backlog', (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id))
$$;

-- GET /admin/webhooks: {"webhooks": [Webhook]} of the site, oldest first.
CREATE OR REPLACE FUNCTION chat_admin_webhooks(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('webhooks',
                              coalesce(jsonb_agg(chat_webhook_json(w) ORDER BY w.created_at, w.id), '[]'::jsonb))
      FROM webhooks w WHERE w.site = p_site
$$;

-- POST /admin/webhooks: p_fields {"url", "events", "secret"} (checked by core). {"webhook"};
-- CH409 when the site has p_max webhooks already (limits.h kWebhooksPerSite: every webhook
-- adds a delivery row to each write of its site, so one site's admin must not be able to
-- multiply the write path's cost for everyone). Counted under the table lock: two creates
-- never both take the last place.
CREATE OR REPLACE FUNCTION chat_admin_webhook_create(p_fields jsonb, p_site text, p_max int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE;
    IF (SELECT count(*) FROM webhooks WHERE site = p_site) >= p_max THEN
        RAISE EXCEPTION 'a site has at most % webhooks: delete one first', p_max USING ERRCODE = 'CH409';
    END IF;
    BEGIN
        INSERT INTO webhooks (site, url, events, secret)
        VALUES (p_site, p_fields->>'url',
                ARRAY(SELECT jsonb_array_elements_text(p_fields->'events')), p_fields->>'secret')
        RETURNING * INTO w;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a webhook with this url exists on this site' USING ERRCODE = 'unique_violation';
    END;
    PERFORM chat_webhook_triggers();
    RETURN jsonb_build_object('webhook', chat_webhook_json(w));
END
$$;

-- DELETE /admin/webhooks/{id}: {}. Its pending deliveries go with it (and outbox rows no
-- webhook waits for any more).
CREATE OR REPLACE FUNCTION chat_admin_webhook_delete(p_id uuid, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM webhooks WHERE id = p_id AND site = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook not found' USING ERRCODE = 'CH404';
    END IF;
    DELETE FROM webhook_deliveries WHERE webhook_id = p_id;
    DELETE FROM outbox o WHERE o.site = p_site
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id);
    PERFORM chat_webhook_triggers();
    RETURN '{}'::jsonb;
END
$$;

-- The sender's claim (every worker's timer, any node): at most p_limit due deliveries, each the
-- oldest pending one of its (webhook, conversation), none already leased, at most p_per_webhook
-- leased per webhook at a time (a dead receiver's deliveries never take every slot). Claimed rows
-- are leased for p_lease_ms (longer than the sender's timeout): no other sender takes them, nor
-- any later event of their conversation, until chat_webhook_done or the lease runs out (a worker
-- that died mid-delivery: delivered again, at least once). SKIP LOCKED: concurrent claims never
-- wait for each other. Rows: webhook_id, outbox_id, url, secret, body (the exact bytes to POST).
CREATE OR REPLACE FUNCTION chat_webhook_claim(p_limit int, p_lease_ms int, p_per_webhook int)
RETURNS TABLE (webhook_id uuid, outbox_id bigint, url text, secret text, body text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT d.webhook_id, d.outbox_id, d.next_attempt_at
          FROM webhook_deliveries d
         WHERE d.next_attempt_at <= clock_timestamp()
           AND (d.leased_until IS NULL OR d.leased_until <= clock_timestamp())
           AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                            WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key
                              AND e.outbox_id < d.outbox_id)
         ORDER BY d.next_attempt_at
         LIMIT p_limit * 4
           FOR UPDATE OF d SKIP LOCKED
    ), busy AS (
        SELECT d.webhook_id, count(*) AS n FROM webhook_deliveries d
         WHERE d.leased_until IS NOT NULL AND d.leased_until > clock_timestamp()
           AND d.webhook_id IN (SELECT due.webhook_id FROM due)
         GROUP BY d.webhook_id
    ), pick AS (
        SELECT x.webhook_id, x.outbox_id
          FROM (SELECT due.*, row_number() OVER (PARTITION BY due.webhook_id ORDER BY due.next_attempt_at) AS k
                  FROM due) x
          LEFT JOIN busy b ON b.webhook_id = x.webhook_id
         WHERE x.k + coalesce(b.n, 0) <= p_per_webhook
         ORDER BY x.next_attempt_at
         LIMIT p_limit
    ), claimed AS (
        UPDATE webhook_deliveries d
           SET leased_until = clock_timestamp() + p_lease_ms * interval '1 millisecond',
               attempts = d.attempts + 1
          FROM pick
         WHERE d.webhook_id = pick.webhook_id AND d.outbox_id = pick.outbox_id
        RETURNING d.webhook_id, d.outbox_id
    )
    SELECT c.webhook_id, c.outbox_id, w.url, w.secret,
           jsonb_build_object('id', o.event_id, 'type', o.type, 'created_at', chat_ts(o.created_at),
                              'data', o.data)::text
      FROM claimed c
      JOIN webhooks w ON w.id = c.webhook_id
      JOIN outbox o ON o.id = c.outbox_id
     ORDER BY c.outbox_id;
END
$$;

-- A claimed delivery's end. Delivered (p_ok): the row goes (and its outbox row once no webhook
-- waits for it), the webhook's last_delivered_at is now. Failed: p_error is the webhook's
-- last_error, and the delivery is due again after p_backoff_ms doubled per earlier attempt
-- (at most an hour); once its event is older than p_give_up_s it is dropped instead, and
-- last_error says so. {} either way; a delivery already gone (its webhook deleted) is no error.
CREATE OR REPLACE FUNCTION chat_webhook_done(p_webhook uuid, p_outbox bigint, p_ok bool, p_error text,
                                             p_backoff_ms int, p_give_up_s int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d webhook_deliveries;
    born timestamptz;
BEGIN
    -- the event's row first: two webhooks finishing one event take turns, so the second
    -- sees the first's delivery gone and removes the event
    PERFORM 1 FROM outbox WHERE id = p_outbox FOR UPDATE;
    SELECT * INTO d FROM webhook_deliveries WHERE webhook_id = p_webhook AND outbox_id = p_outbox FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '{}'::jsonb;
    END IF;
    IF p_ok THEN
        DELETE FROM webhook_deliveries WHERE webhook_id = p_webhook AND outbox_id = p_outbox;
        -- at most once a second: every delivery rewriting the webhook's one row is churn
        UPDATE webhooks SET last_delivered_at = clock_timestamp()
         WHERE id = p_webhook
           AND (last_delivered_at IS NULL OR last_delivered_at < clock_timestamp() - interval '1 second'
                OR last_delivered_at < last_error_at);
    ELSE
        SELECT created_at INTO born FROM outbox WHERE id = p_outbox;
        IF born < clock_timestamp() - p_give_up_s * interval '1 second' THEN
            DELETE FROM webhook_deliveries WHERE webhook_id = p_webhook AND outbox_id = p_outbox;
            UPDATE webhooks SET last_error = 'gave up after ' || d.attempts || ' attempts: ' || left(p_error, 400),
                   last_error_at = clock_timestamp()
             WHERE id = p_webhook;
        ELSE
            UPDATE webhook_deliveries
               SET leased_until = NULL,
                   next_attempt_at = clock_timestamp()
                       + least(p_backoff_ms::float8 * power(2, least(d.attempts - 1, 20)), 3600000) * interval '1 millisecond'
             WHERE webhook_id = p_webhook AND outbox_id = p_outbox;
            UPDATE webhooks SET last_error = left(p_error, 500), last_error_at = clock_timestamp()
             WHERE id = p_webhook;
            RETURN '{}'::jsonb;
        END IF;
    END IF;
    DELETE FROM outbox o WHERE o.id = p_outbox
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.outbox_id = p_outbox);
    RETURN '{}'::jsonb;
END
$$;

-- /chat/status: {"webhooks", "backlog", "failing"} over every site; failing = webhooks whose
-- last error is newer than their last delivery.
CREATE OR REPLACE FUNCTION chat_webhook_status() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'webhooks', (SELECT count(*) FROM webhooks),
        'backlog', (SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id),
        'failing', (SELECT count(*) FROM webhooks
                     WHERE last_error_at IS NOT NULL
                       AND last_error_at > coalesce(last_delivered_at, '-infinity')))
$$;
