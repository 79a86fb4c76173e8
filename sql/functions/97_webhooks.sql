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

-- The types some webhook of the site wants; NULL when none. Every trigger asks, so plpgsql:
-- its plan is kept for the session (a SQL function that cannot be inlined is planned again
-- in every transaction that calls it).
CREATE OR REPLACE FUNCTION chat_webhook_types(p_site text) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT array_agg(DISTINCT e) FROM webhooks w, unnest(w.events) e WHERE w.site = p_site);
END
$$;

-- Each event is one outbox row, small and typed: no JSON rendered and no delivery made in the
-- writer's transaction (the claim does both: chat_webhook_fanout, chat_outbox_data below), so
-- what a write pays for a webhook is this row. ref: the message, note or agent the event is
-- about; snap: the conversation's row as the change left it (conversation events); data: an
-- event rendered now (presence, rare). The INSERTs are written out in each trigger (a helper
-- function per event cost a call each).

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
        INSERT INTO outbox (site, conversation_id, type, ref) VALUES (c.site, c.id, 'message.created', NEW.id);
    END IF;
    IF NEW.sender_type = 'agent' AND c.offline AND 'conversation.offline_reply' = ANY (want) THEN
        INSERT INTO outbox (site, conversation_id, type, ref, snap)
        VALUES (c.site, c.id, 'conversation.offline_reply', NEW.id, to_jsonb(c));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION chat_outbox_conversation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    want text[];
    snap jsonb;
BEGIN
    want := chat_webhook_types(NEW.site);
    IF want IS NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.assigned_agent_id IS NOT NULL AND NEW.assigned_agent_id IS DISTINCT FROM OLD.assigned_agent_id
       AND 'agent.assigned' = ANY (want) THEN
        INSERT INTO outbox (site, conversation_id, type, ref)
        VALUES (NEW.site, NEW.id, 'agent.assigned', NEW.assigned_agent_id);
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
        -- the row as this change left it: rendered as a Conversation when claimed
        snap := to_jsonb(NEW);
        IF 'conversation.updated' = ANY (want) THEN
            INSERT INTO outbox (site, conversation_id, type, snap) VALUES (NEW.site, NEW.id, 'conversation.updated', snap);
        END IF;
        IF NEW.status = 'closed' AND OLD.status <> 'closed' AND 'chat.closed' = ANY (want) THEN
            INSERT INTO outbox (site, conversation_id, type, snap) VALUES (NEW.site, NEW.id, 'chat.closed', snap);
        END IF;
        IF NEW.rating_score IS NOT NULL AND OLD.rating_score IS NULL AND 'conversation.rated' = ANY (want) THEN
            INSERT INTO outbox (site, conversation_id, type, snap) VALUES (NEW.site, NEW.id, 'conversation.rated', snap);
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
        INSERT INTO outbox (site, conversation_id, type, ref) VALUES (s, NEW.conversation_id, 'note.created', NEW.id);
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
            -- rare: rendered now (the agent's presence, active chats… as of this change)
            data := coalesce(data, chat_agent_json(NEW));
            INSERT INTO outbox (site, type, ref, data) VALUES (s, 'agent.presence.changed', NEW.id, data);
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

-- What a webhook still has to receive: its deliveries, and the events it wants whose
-- deliveries the claim has not made yet (outbox_unfanned_idx: a few rows).
CREATE OR REPLACE FUNCTION chat_webhook_backlog(w webhooks) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id)
         + (SELECT count(*) FROM outbox o WHERE NOT o.fanned AND o.site = w.site AND o.type = ANY (w.events))
$$;

-- Webhook = {"id", "url", "events", "created_at", "last_delivered_at", "last_error",
-- "last_error_at", "failing", "backlog"}; failing: the last attempt that ended failed (its
-- error is newer than the last delivery). The secret never leaves the database through the API.
CREATE OR REPLACE FUNCTION chat_webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', w.id, 'url', w.url, 'events', to_jsonb(w.events),
                              'created_at', chat_ts(w.created_at),
                              'last_delivered_at', chat_ts(w.last_delivered_at),
                              'last_error', w.last_error,
                              'last_error_at', chat_ts(w.last_error_at),
                              'failing', w.last_error_at IS NOT NULL
                                         AND w.last_error_at > coalesce(w.last_delivered_at, '-infinity'),
                              'backlog', chat_webhook_backlog(w))
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
    DELETE FROM outbox o WHERE o.site = p_site AND o.fanned
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id);
    PERFORM chat_webhook_triggers();
    RETURN '{}'::jsonb;
END
$$;

-- The event's "data", rendered from its outbox row when it is claimed. A message or a note
-- does not change once written, so this is what the write would have rendered; a message's
-- read_at is shown only if it was set when the event was written (read later: null, as the
-- receiver would have seen it then). Conversation events render the row as their change left
-- it (snap); the names it joins (agent, department, customer) and queue_position are read now.
-- agent.assigned names the agent as it is now. Rows with data were rendered when written.
CREATE OR REPLACE FUNCTION chat_outbox_data(o outbox) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m messages;
    n notes;
    msg jsonb;
BEGIN
    IF o.data IS NOT NULL THEN
        RETURN o.data;
    END IF;
    IF o.type IN ('message.created', 'conversation.offline_reply') THEN
        SELECT * INTO m FROM messages WHERE id = o.ref;
        IF m.read_at > o.created_at THEN
            m.read_at := NULL;
        END IF;
        msg := chat_message_json(m);
        IF o.type = 'message.created' THEN
            RETURN msg;
        END IF;
        RETURN jsonb_build_object('conversation',
                                  chat_conversation_json(jsonb_populate_record(NULL::conversations, o.snap), 'customer'),
                                  'message', msg);
    ELSIF o.type = 'note.created' THEN
        SELECT * INTO n FROM notes WHERE id = o.ref;
        RETURN chat_note_json(n);
    ELSIF o.type = 'agent.assigned' THEN
        RETURN (SELECT jsonb_build_object('agent', jsonb_build_object('id', a.id, 'display_name', a.display_name),
                                          'conversation_id', o.conversation_id)
                  FROM agents a WHERE a.id = o.ref);
    END IF;
    -- conversation.updated, chat.closed, conversation.rated
    RETURN chat_conversation_json(jsonb_populate_record(NULL::conversations, o.snap), 'customer');
END
$$;

-- The body POSTed for an event: {"id", "type", "created_at", "data"}.
CREATE OR REPLACE FUNCTION chat_outbox_body(o outbox) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', o.event_id, 'type', o.type, 'created_at', chat_ts(o.created_at),
                              'data', chat_outbox_data(o))::text
$$;

-- Makes the deliveries of at most p_limit events the writes added (one per webhook of the
-- event's site that wants its type) and marks them fanned; an event no webhook wants goes.
-- Called by the claim, one claim at a time (the advisory lock: others skip this step).
--
-- Order per (webhook, conversation) holds: a conversation's writers hold its row lock while
-- they add its events, so the events of one conversation that a statement can see are the
-- oldest of that conversation, in id order; this step takes the unfanned events lowest id
-- first, and only one claim runs it at a time (the lock is held until its transaction ends,
-- so the next one sees its fanned rows): an event's deliveries are never made before those of
-- an older event of its conversation, and the claim below sends only the oldest delivery of
-- each (webhook, conversation).
CREATE OR REPLACE FUNCTION chat_webhook_fanout(p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('chat_webhook_fanout')) THEN
        RETURN 0;
    END IF;
    WITH batch AS (
        SELECT o.id, o.site, o.type, o.created_at, coalesce(o.conversation_id, o.ref) AS order_key
          FROM outbox o WHERE NOT o.fanned ORDER BY o.id LIMIT p_limit
           FOR UPDATE OF o    -- an event deleted meanwhile (retention, erase) is left out, not an error
    ), made AS (
        INSERT INTO webhook_deliveries (webhook_id, outbox_id, order_key)
        SELECT w.id, b.id, b.order_key
          FROM batch b JOIN webhooks w ON w.site = b.site AND b.type = ANY (w.events)
         WHERE b.created_at >= w.created_at    -- not what was written before the webhook existed
        RETURNING outbox_id
    ), wanted AS (
        SELECT b.id, EXISTS (SELECT 1 FROM webhooks w WHERE w.site = b.site AND b.type = ANY (w.events)
                                AND b.created_at >= w.created_at) AS yes
          FROM batch b
    ), marked AS (
        UPDATE outbox o SET fanned = true FROM wanted x WHERE o.id = x.id AND x.yes
        RETURNING o.id
    ), dropped AS (
        DELETE FROM outbox o USING wanted x WHERE o.id = x.id AND NOT x.yes
        RETURNING o.id
    )
    SELECT (SELECT count(*) FROM made) + (SELECT count(*) FROM dropped) INTO n;
    RETURN n;
END
$$;

-- The sender's claim (every worker's timer, any node): at most p_limit due deliveries, each the
-- oldest pending one of its (webhook, conversation), none already leased, at most p_per_webhook
-- leased per webhook at a time (a dead receiver's deliveries never take every slot). Claimed rows
-- are leased for p_lease_ms (longer than the sender's timeout): no other sender takes them, nor
-- any later event of their conversation, until chat_webhook_done or the lease runs out (a worker
-- that died mid-delivery: delivered again, at least once). SKIP LOCKED: concurrent claims never
-- wait for each other. Rows: webhook_id, outbox_id, url, secret, body (the exact bytes to POST,
-- rendered now: chat_outbox_body). First it makes the deliveries of the events written since
-- (chat_webhook_fanout).
CREATE OR REPLACE FUNCTION chat_webhook_claim(p_limit int, p_lease_ms int, p_per_webhook int)
RETURNS TABLE (webhook_id uuid, outbox_id bigint, url text, secret text, body text)
LANGUAGE plpgsql AS $$
DECLARE
    open_ uuid[];
BEGIN
    PERFORM chat_webhook_fanout(1000);
    -- the webhooks with a free lease (webhook_deliveries_leased_idx: the leases in flight): a
    -- webhook at p_per_webhook is left out before the scan below (which otherwise locked
    -- p_limit * 4 of its rows to hand out none: 125 ms a claim at a backlog of 100 000)
    SELECT array_agg(w.id) INTO open_ FROM webhooks w
     WHERE (SELECT count(*) FROM webhook_deliveries l
             WHERE l.webhook_id = w.id AND l.leased_until IS NOT NULL
               AND l.leased_until > clock_timestamp()) < p_per_webhook;
    IF open_ IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH due AS (
        SELECT d.webhook_id, d.outbox_id, d.next_attempt_at
          FROM webhook_deliveries d
         WHERE d.next_attempt_at <= clock_timestamp()
           AND (d.leased_until IS NULL OR d.leased_until <= clock_timestamp())
           AND d.webhook_id = ANY (open_)
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
    SELECT c.webhook_id, c.outbox_id, w.url, w.secret, chat_outbox_body(o)
      FROM claimed c
      JOIN webhooks w ON w.id = c.webhook_id
      JOIN outbox o ON o.id = c.outbox_id
     ORDER BY c.outbox_id;
END
$$;

-- Claimed deliveries' ends, a batch of them (the sender records what ended meanwhile in one
-- call: a transaction per delivery cost as much as a post). Delivered (ok): the row goes (and
-- its outbox row once no webhook waits for it), the webhook's last_delivered_at is now.
-- Failed: the error is the webhook's last_error, and the delivery is due again after
-- p_backoff_ms doubled per earlier attempt (at most an hour); once its event is older than
-- p_give_up_s it is dropped instead, and last_error says so. One row per item in item order
-- (pg::BatchKind's shape: '{}', NULL, NULL); a delivery already gone (its webhook deleted) is
-- no error.
--
-- Locks: first the webhooks table in ROW EXCLUSIVE mode (the mode its UPDATEs below take
-- anyway; taken first because a webhook's delete holds SHARE ROW EXCLUSIVE while it deletes the
-- webhook's deliveries and events: a batch holding those rows while waiting for the table was
-- a deadlock), then the outbox rows in id order (two webhooks finishing one event take turns,
-- so the second sees the first's delivery gone and removes the event), each with its
-- delivery, then the webhooks' rows in id order: two batches never wait for each other in a
-- cycle.
CREATE OR REPLACE FUNCTION chat_webhook_done(p_webhooks uuid[], p_outbox bigint[], p_ok bool[], p_errors text[],
                                             p_backoff_ms int, p_give_up_s int)
RETURNS TABLE (answer text, err_state text, err_message text) LANGUAGE plpgsql AS $$
DECLARE
    j record;
    d webhook_deliveries;
    born timestamptz;
    h record;
    done_w uuid[] := '{}';     -- the outcomes recorded: webhook, place in the batch, error (NULL: delivered)
    done_k bigint[] := '{}';
    done_e text[] := '{}';
BEGIN
    LOCK TABLE webhooks IN ROW EXCLUSIVE MODE;
    FOR j IN SELECT x.w, x.o, x.ok, x.e, x.k
               FROM unnest(p_webhooks, p_outbox, p_ok, p_errors) WITH ORDINALITY AS x (w, o, ok, e, k)
              ORDER BY x.o, x.w
    LOOP
        PERFORM 1 FROM outbox WHERE id = j.o FOR UPDATE;
        SELECT * INTO d FROM webhook_deliveries WHERE webhook_id = j.w AND outbox_id = j.o FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        IF j.ok THEN
            DELETE FROM webhook_deliveries WHERE webhook_id = j.w AND outbox_id = j.o;
            done_w := done_w || j.w; done_k := done_k || j.k; done_e := done_e || NULL::text;
        ELSE
            SELECT created_at INTO born FROM outbox WHERE id = j.o;
            IF born < clock_timestamp() - p_give_up_s * interval '1 second' THEN
                DELETE FROM webhook_deliveries WHERE webhook_id = j.w AND outbox_id = j.o;
                done_w := done_w || j.w; done_k := done_k || j.k;
                done_e := done_e || ('gave up after ' || d.attempts || ' attempts: ' || left(coalesce(j.e, ''), 400));
            ELSE
                UPDATE webhook_deliveries
                   SET leased_until = NULL,
                       next_attempt_at = clock_timestamp()
                           + least(p_backoff_ms::float8 * power(2, least(d.attempts - 1, 20)), 3600000) * interval '1 millisecond'
                 WHERE webhook_id = j.w AND outbox_id = j.o;
                done_w := done_w || j.w; done_k := done_k || j.k; done_e := done_e || left(coalesce(j.e, ''), 500);
                CONTINUE;
            END IF;
        END IF;
        DELETE FROM outbox o WHERE o.id = j.o AND o.fanned
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.outbox_id = j.o);
    END LOOP;
    -- per webhook, in id order: its last failure of the batch and whether a delivery came
    -- after it; the later of the two is written last (failing = last_error_at newer)
    FOR h IN SELECT t.w AS webhook_id,
                    bool_or(t.e IS NULL) AS any_ok,
                    max(t.k) FILTER (WHERE t.e IS NULL) AS ok_k,
                    max(t.k) FILTER (WHERE t.e IS NOT NULL) AS fail_k,
                    (array_agg(t.e ORDER BY t.k DESC) FILTER (WHERE t.e IS NOT NULL))[1] AS error
               FROM unnest(done_w, done_k, done_e) AS t (w, k, e) GROUP BY t.w ORDER BY t.w
    LOOP
        IF h.any_ok AND (h.fail_k IS NULL OR h.ok_k < h.fail_k) THEN
            -- at most once a second: every delivery rewriting the webhook's one row is churn
            UPDATE webhooks SET last_delivered_at = clock_timestamp()
             WHERE id = h.webhook_id
               AND (last_delivered_at IS NULL OR last_delivered_at < clock_timestamp() - interval '1 second'
                    OR last_delivered_at < last_error_at);
        END IF;
        IF h.fail_k IS NOT NULL THEN
            UPDATE webhooks SET last_error = h.error, last_error_at = clock_timestamp() WHERE id = h.webhook_id;
        END IF;
        IF h.fail_k IS NOT NULL AND h.ok_k > h.fail_k THEN
            UPDATE webhooks SET last_delivered_at = clock_timestamp() WHERE id = h.webhook_id;
        END IF;
    END LOOP;
    RETURN QUERY SELECT '{}'::text, NULL::text, NULL::text FROM generate_series(1, coalesce(cardinality(p_webhooks), 0));
END
$$;

-- /chat/status: {"webhooks", "backlog", "failing"} over every site; failing = webhooks whose
-- last error is newer than their last delivery.
CREATE OR REPLACE FUNCTION chat_webhook_status() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'webhooks', (SELECT count(*) FROM webhooks),
        'backlog', (SELECT coalesce(sum(chat_webhook_backlog(w)), 0) FROM webhooks w),
        'failing', (SELECT count(*) FROM webhooks
                     WHERE last_error_at IS NOT NULL
                       AND last_error_at > coalesce(last_delivered_at, '-infinity')))
$$;
