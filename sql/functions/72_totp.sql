-- functions/72_totp: the agents' second factor (setup, enable, disable, reset), and the
-- step rule the login shares: a code is accepted only for a step later than the last
-- accepted one (totp_last_step), written in the same UPDATE that checks it, so two
-- requests with the same code can never both pass (the row lock orders them; the second
-- sees the first's step under READ COMMITTED's re-check of the WHERE clause).
--
-- Codes are computed and compared in core (core/src/totp.cpp), which alone can open the
-- secret's box; SQL only stores the box and the step.

-- POST /agent/totp/setup: a new secret (box) while TOTP is not enabled, replacing an
-- earlier unconfirmed one. {"agent"}; CH409 while enabled (disable first).
CREATE OR REPLACE FUNCTION chat_agent_totp_setup(p_agent uuid, p_box text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    SELECT * INTO a FROM agents WHERE id = p_agent AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'CH404';
    END IF;
    IF a.totp_enabled THEN
        RAISE EXCEPTION 'two-factor authentication is already enabled; disable it first' USING ERRCODE = 'CH409';
    END IF;
    UPDATE agents SET totp_secret = p_box, totp_last_step = NULL, updated_at = clock_timestamp()
     WHERE id = p_agent RETURNING * INTO a;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- POST /agent/totp/enable and /disable, before the code is checked: the attempt reserved
-- under the agent's username and p_address like a login's (chat_login_reserve, 70_login.sql:
-- a wrong code is a failed login, and a locked username gets the login's 429; here the
-- username's failures from every address count toward `failures`), and what
-- core checks the code against. NULL for a deleted agent; {"limited": true, "retry_after"}
-- | {"limited": false, "attempt", "box", "enabled", "last_step"}. The attempt stays (a
-- failure) unless core takes it back (chat_agent_login_cancel: nothing to check the code
-- against, or the switch was thrown).
CREATE OR REPLACE FUNCTION chat_agent_totp_begin(p_agent uuid, p_address text,
    p_max_failures int, p_max_address_failures int, p_window_s int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    r jsonb;
BEGIN
    SELECT * INTO a FROM agents WHERE id = p_agent AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    r := chat_login_reserve(a.username, p_address, p_max_failures, p_max_address_failures, p_window_s, true);
    IF (r->>'limited')::bool THEN
        RETURN r;
    END IF;
    RETURN r || jsonb_build_object('box', a.totp_secret, 'enabled', a.totp_enabled, 'last_step', a.totp_last_step);
END
$$;

-- POST /agent/totp/enable and /disable, after core matched the code of step p_step
-- against the box p_box: the switch is thrown only if the box is still the one checked,
-- the state is still the opposite one and the step is later than any used. {"agent"};
-- CH409 otherwise (a concurrent setup, enable, disable or the same code twice).
CREATE OR REPLACE FUNCTION chat_agent_totp_switch(p_agent uuid, p_box text, p_step bigint, p_enable bool)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
BEGIN
    UPDATE agents
       SET totp_enabled = p_enable,
           totp_secret = CASE WHEN p_enable THEN totp_secret END,
           totp_last_step = CASE WHEN p_enable THEN p_step END,
           updated_at = clock_timestamp()
     WHERE id = p_agent AND deleted_at IS NULL AND totp_secret = p_box
       AND totp_enabled = NOT p_enable
       AND (totp_last_step IS NULL OR totp_last_step < p_step)
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the code was already used or the second factor changed meanwhile' USING ERRCODE = 'CH409';
    END IF;
    RETURN jsonb_build_object('agent', chat_agent_json(a));
END
$$;

-- chatctl agent totp-reset USERNAME (a lost phone): the live agent's second factor off
-- and forgotten. {"agent", "was_enabled"}, or NULL for no such live agent.
CREATE OR REPLACE FUNCTION chat_agent_totp_reset(p_username text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a agents;
    was bool;
BEGIN
    SELECT * INTO a FROM agents WHERE lower(username) = lower(p_username) AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    was := a.totp_enabled;
    UPDATE agents SET totp_enabled = false, totp_secret = NULL, totp_last_step = NULL,
           updated_at = clock_timestamp()
     WHERE id = a.id RETURNING * INTO a;
    RETURN jsonb_build_object('agent', chat_agent_json(a), 'was_enabled', was);
END
$$;
