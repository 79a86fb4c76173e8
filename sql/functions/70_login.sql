-- functions/70_login: agent login (failed logins counted atomically, per (username,
-- address) and per address for any username), token checks, logout and presence.
--
-- A login attempt is reserved BEFORE its password is hashed: chat_agent_login_begin
-- inserts the attempt's row into login_failures only while both counts are under their
-- limits, else answers "limited" and inserts nothing. The row is the failure: a wrong
-- password needs no second write, and a right one deletes it together with the pair's
-- earlier failures (chat_agent_login_ok), so successful logins never count. An attempt
-- whose hash could not run at all is taken back by chat_agent_login_cancel.
--
-- The same reservation (chat_login_reserve) stands before every other check of an agent's
-- secret: the TOTP code of POST /agent/totp/enable and /disable (chat_agent_totp_begin,
-- 72_totp.sql) counts under the agent's username exactly like a login, so the code cannot
-- be brute-forced there either, and a locked username is locked for both. There, whoever
-- asks already holds the agent's token, so a botnet's many addresses must not multiply the
-- guesses: the username's failures count from every address (p_any_address), under a
-- second lock, of the username (taken after the address's: login never takes it, so no two
-- transactions wait for each other's locks in opposite orders), which bounds the code checks
-- of enable and disable as the address's lock bounds logins.
--
-- Why N concurrent guesses cannot slip through: chat_login_reserve first takes the
-- transaction-level advisory lock of the address (both limits share the address, so one
-- lock covers both), and only rows inserted under that lock count against it. Its
-- counting statements run after the lock is granted, each with a fresh snapshot (a
-- volatile plpgsql function under READ COMMITTED), so they see every row committed by
-- earlier holders: a holder commits before its lock is released. Between the count and
-- the insert no other transaction can add a row for the address. Everything else only
-- deletes rows (a successful login, the pruning below, a cancel), which can only lower a
-- count and never push a decision past a limit. So at most `limit` attempts of a
-- username and address, and at most `address limit` attempts of an address, are ever
-- admitted within a window, however many arrive at once.
--
-- Bounded table: every reservation also deletes up to 100 rows older than the window
-- (any username or address; SKIP LOCKED, so concurrent logins never wait on each other's
-- pruning). Rows are only inserted by reservations, one each, so old rows go at least as
-- fast as new ones come: the table holds about one window's worth of failures. Every node
-- should use the same window (chat_login_limit), since a shorter one prunes rows a
-- longer one would still count.

-- The advisory lock class of login limits (the two-key form: its key space does not
-- overlap the single-key locks of 50_assignment).
CREATE OR REPLACE FUNCTION chat_login_lock_class() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120 $$;

-- Reserves one attempt of p_username from p_address, or says it is limited (see the top):
-- {"limited": true, "retry_after": s} | {"limited": false, "attempt": id}. p_any_address:
-- p_max_failures counts the username's failures from every address, not from p_address
-- only. The locks are held until the caller's transaction ends.
CREATE OR REPLACE FUNCTION chat_login_reserve(p_username text, p_address text,
    p_max_failures int, p_max_address_failures int, p_window_s int, p_any_address bool)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    since timestamptz;
    n_pair int;
    n_addr int;
    oldest_pair timestamptz;
    oldest_addr timestamptz;
    wait_s double precision := 0;
    attempt bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_login_lock_class(), hashtext(p_address));
    IF p_any_address THEN
        PERFORM pg_advisory_xact_lock(chat_login_lock_class(), hashtext('user:' || lower(p_username)));
    END IF;

    since := clock_timestamp() - make_interval(secs => p_window_s);
    DELETE FROM login_failures
     WHERE id IN (SELECT id FROM login_failures WHERE at <= since
                   ORDER BY at LIMIT 100 FOR UPDATE SKIP LOCKED);

    SELECT count(*), min(at) INTO n_addr, oldest_addr FROM login_failures
     WHERE address = p_address AND at > since;
    SELECT count(*), min(at) INTO n_pair, oldest_pair FROM login_failures
     WHERE username = lower(p_username) AND (p_any_address OR address = p_address) AND at > since;

    IF n_addr >= p_max_address_failures THEN
        wait_s := extract(epoch FROM oldest_addr - since);
    END IF;
    IF n_pair >= p_max_failures THEN
        wait_s := greatest(wait_s, extract(epoch FROM oldest_pair - since));
    END IF;
    IF n_addr >= p_max_address_failures OR n_pair >= p_max_failures THEN
        RETURN jsonb_build_object('limited', true,
                                  'retry_after', greatest(1, ceil(wait_s))::int);
    END IF;

    INSERT INTO login_failures (username, address) VALUES (lower(p_username), p_address)
    RETURNING id INTO attempt;
    RETURN jsonb_build_object('limited', false, 'attempt', attempt);
END
$$;

-- Step 1 of login: reserve the attempt, or say it is limited; also the agent's hash and
-- token version (the hash is checked on the thread pool, outside SQL). An agent not
-- granted the request's site (p_site) may not log in there: "deleted" for this login, so
-- core checks a dummy hash and answers the same 401 as a wrong password (no oracle).
-- {"limited": true, "retry_after": s}
-- | {"limited": false, "attempt": id, "agent_id": ...|null, "password_hash", "token_version", "deleted",
--    "totp_box": the second factor's box while enabled, else null, "totp_last_step"}
CREATE OR REPLACE FUNCTION chat_agent_login_begin(p_username text, p_address text,
    p_max_failures int, p_max_address_failures int, p_window_s int, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    attempt bigint;
    a agents;
BEGIN
    r := chat_login_reserve(p_username, p_address, p_max_failures, p_max_address_failures, p_window_s, false);
    IF (r->>'limited')::bool THEN
        RETURN r;
    END IF;
    attempt := (r->>'attempt')::bigint;

    -- the live agent of this name, else the latest deleted one (a name is reusable)
    SELECT * INTO a FROM agents WHERE lower(username) = lower(p_username)
     ORDER BY deleted_at IS NOT NULL, deleted_at DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('limited', false, 'attempt', attempt, 'agent_id', NULL);
    END IF;
    RETURN jsonb_build_object('limited', false, 'attempt', attempt, 'agent_id', a.id,
        'password_hash', a.password_hash, 'token_version', a.token_version,
        'deleted', a.deleted_at IS NOT NULL OR NOT chat_agent_on_site(a, p_site),
        'totp_box', CASE WHEN a.totp_enabled THEN a.totp_secret END, 'totp_last_step', a.totp_last_step);
END
$$;

-- An attempt whose password was never checked (the hashing queue was full) does not count;
-- nor does a TOTP switch's that had no code to check, or whose code was right.
CREATE OR REPLACE FUNCTION chat_agent_login_cancel(p_attempt bigint)
RETURNS jsonb LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM login_failures WHERE id = p_attempt RETURNING id)
    SELECT jsonb_build_object('cancelled', count(*) > 0) FROM gone
$$;

-- Step 2b: the password matched (and, for an agent with TOTP enabled, core matched the
-- code of step p_totp_step; NULL without one). Still valid only if nothing changed
-- meanwhile (a password change or delete bumps token_version) and, with TOTP enabled,
-- only for a step later than the last one accepted, recorded in the same UPDATE (a code
-- is used once: of two logins with it, the second re-checks the row after the first's
-- commit and finds the step taken). Then the failures of the pair are forgotten, the
-- heartbeat set, and {"agent", "token_version"} returned; else NULL.
CREATE OR REPLACE FUNCTION chat_agent_login_ok(p_agent uuid, p_token_version bigint,
    p_username text, p_address text, p_totp_step bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    UPDATE agents SET last_seen_at = clock_timestamp(),
           totp_last_step = CASE WHEN totp_enabled THEN p_totp_step ELSE totp_last_step END
     WHERE id = p_agent AND token_version = p_token_version AND deleted_at IS NULL
       AND (NOT totp_enabled
            OR (p_totp_step IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < p_totp_step)))
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM login_failures WHERE username = lower(p_username) AND address = p_address;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'token_version', a.token_version);
END
$$;

-- Every authenticated agent request: the token's version must still be current, the
-- agent not deleted and still granted the token's site (p_site); also the heartbeat (last_seen_at, written at most once a
-- second to spare the row). {"agent", "token_version", "departments": [ids of the departments
-- they are a member of: whose queue events an agent socket hears]} or NULL (core answers 401).
CREATE OR REPLACE FUNCTION chat_agent_auth(p_agent uuid, p_token_version bigint,
    p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    SELECT * INTO a FROM agents
     WHERE id = p_agent AND token_version = p_token_version AND deleted_at IS NULL;
    IF NOT FOUND OR NOT chat_agent_on_site(a, p_site) THEN
        RETURN NULL;
    END IF;
    IF a.last_seen_at IS NULL OR a.last_seen_at < clock_timestamp() - interval '1 second' THEN
        UPDATE agents SET last_seen_at = clock_timestamp() WHERE id = p_agent;
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'token_version', a.token_version,
        'departments', coalesce((SELECT jsonb_agg(m.department_id ORDER BY m.department_id)
                                   FROM department_agents m WHERE m.agent_id = a.id), '[]'::jsonb));
END
$$;

-- Logout revokes every token of the agent and takes them offline. Their open chats
-- stay theirs for now; without a heartbeat the grace sweep requeues them.
CREATE OR REPLACE FUNCTION chat_agent_logout(p_agent uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    UPDATE agents SET token_version = token_version + 1, presence = 'offline',
           updated_at = clock_timestamp()
     WHERE id = p_agent
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- POST /agent/presence. Going online runs assignment; away/offline keep their chats
-- (only the grace sweep requeues). {"agent", "assigned"}.
CREATE OR REPLACE FUNCTION chat_agent_presence(p_agent uuid, p_presence text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    assigned jsonb := '[]'::jsonb;
BEGIN
    IF p_presence NOT IN ('online', 'away', 'offline') THEN
        RAISE EXCEPTION 'presence must be online, away or offline' USING ERRCODE = 'CH422';
    END IF;
    IF p_presence = 'online' THEN
        PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    END IF;
    UPDATE agents SET presence = p_presence, last_seen_at = clock_timestamp(),
           updated_at = clock_timestamp()
     WHERE id = p_agent AND deleted_at IS NULL
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent is disabled' USING ERRCODE = 'CH403';
    END IF;
    IF p_presence = 'online' THEN
        assigned := chat_assign_queue();
    END IF;
    SELECT * INTO a FROM agents WHERE id = p_agent;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'assigned', assigned);
END
$$;
