-- 005_login_limits: failed logins counted atomically, per (username, address) and per
-- address for any username, and pruned as new ones come (issue 9, item 7).
--
-- A login attempt is reserved BEFORE its password is hashed: chat_agent_login_begin
-- inserts the attempt's row into login_failures only while both counts are under their
-- limits, else answers "limited" and inserts nothing. The row is the failure: a wrong
-- password needs no second write, and a right one deletes it together with the pair's
-- earlier failures (chat_agent_login_ok, unchanged from 003), so successful logins never
-- count. An attempt whose hash could not run at all is taken back by
-- chat_agent_login_cancel.
--
-- Why N concurrent guesses cannot slip through: chat_agent_login_begin first takes the
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

CREATE INDEX IF NOT EXISTS login_failures_address_idx ON login_failures (address, at);
CREATE INDEX IF NOT EXISTS login_failures_at_idx ON login_failures (at);

-- The advisory lock class of login limits (the two-key form: its key space does not
-- overlap the single-key locks of 003).
CREATE OR REPLACE FUNCTION chat_login_lock_class() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 72435120 $$;

-- Step 1 of login: reserve the attempt, or say it is limited; also the agent's hash and
-- token version (the hash is checked on the thread pool, outside SQL).
-- {"limited": true, "retry_after": s}
-- | {"limited": false, "attempt": id, "agent_id": ...|null, "password_hash", "token_version", "deleted"}
CREATE OR REPLACE FUNCTION chat_agent_login_begin(p_username text, p_address text,
    p_max_failures int, p_max_address_failures int, p_window_s int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    since timestamptz;
    n_pair int;
    n_addr int;
    oldest_pair timestamptz;
    oldest_addr timestamptz;
    wait_s double precision := 0;
    attempt bigint;
    a agents;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_login_lock_class(), hashtext(p_address));

    since := clock_timestamp() - make_interval(secs => p_window_s);
    DELETE FROM login_failures
     WHERE id IN (SELECT id FROM login_failures WHERE at <= since
                   ORDER BY at LIMIT 100 FOR UPDATE SKIP LOCKED);

    SELECT count(*), min(at) INTO n_addr, oldest_addr FROM login_failures
     WHERE address = p_address AND at > since;
    SELECT count(*), min(at) INTO n_pair, oldest_pair FROM login_failures
     WHERE username = lower(p_username) AND address = p_address AND at > since;

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

    SELECT * INTO a FROM agents WHERE lower(username) = lower(p_username);
    IF NOT FOUND THEN
        RETURN jsonb_build_object('limited', false, 'attempt', attempt, 'agent_id', NULL);
    END IF;
    RETURN jsonb_build_object('limited', false, 'attempt', attempt, 'agent_id', a.id,
        'password_hash', a.password_hash, 'token_version', a.token_version,
        'deleted', a.deleted_at IS NOT NULL);
END
$$;

-- An attempt whose password was never checked (the hashing queue was full) does not count.
CREATE OR REPLACE FUNCTION chat_agent_login_cancel(p_attempt bigint)
RETURNS jsonb LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM login_failures WHERE id = p_attempt RETURNING id)
    SELECT jsonb_build_object('cancelled', count(*) > 0) FROM gone
$$;

-- Superseded by chat_agent_login_begin (read-then-write, which let concurrent guesses
-- through, and no per-address limit).
DROP FUNCTION IF EXISTS chat_agent_login_fetch(text, text, int, int);
DROP FUNCTION IF EXISTS chat_agent_login_failed(text, text, int);
