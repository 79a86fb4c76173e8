-- functions/85_departments_admin: the admin API for departments (list, create, update,
-- delete) and the public list of a site's departments with whether each is open.
-- An admin works on one site (p_site, their token's): they see and change only its
-- departments, and make members only of live agents granted it; another site's id is
-- not found. core checked and normalised the fields (chat::department); here Postgres
-- says what only it knows: the time zone exists, the members are agents of the site,
-- the name is free on the site (23505 -> 409).
-- The writes take 50_assignment's lock first (its lock order: the advisory lock before
-- any row), since membership decides who may take a department's chats, then offer the
-- queue at once (a new member online, or a deleted department's chats back in the
-- default queue): {"department", "assigned"}.

-- CH422 unless hours.tz names a zone Postgres knows (core bounded it by a pattern).
CREATE OR REPLACE FUNCTION chat_department_check_hours(p_hours jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_hours IS NOT NULL AND jsonb_typeof(p_hours) = 'object'
       AND NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = p_hours->>'tz') THEN
        RAISE EXCEPTION 'hours.tz must be an IANA time zone name such as Europe/Berlin (unknown: %)',
            p_hours->>'tz' USING ERRCODE = 'CH422';
    END IF;
END
$$;

-- Makes p_ids (a jsonb array of agent ids) the members of d: each must be a live agent
-- granted d's site (CH422 agent_ids otherwise). Members kept keep their round-robin clock.
CREATE OR REPLACE FUNCTION chat_department_set_agents(d departments, p_ids jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY(SELECT DISTINCT e::uuid FROM jsonb_array_elements_text(p_ids) e);
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(ids) i
                WHERE NOT EXISTS (SELECT 1 FROM agents a
                                   WHERE a.id = i AND a.deleted_at IS NULL AND chat_agent_on_site(a, d.site))) THEN
        RAISE EXCEPTION 'agent_ids must name agents of this site' USING ERRCODE = 'CH422';
    END IF;
    DELETE FROM department_agents WHERE department_id = d.id AND NOT (agent_id = ANY (ids));
    INSERT INTO department_agents (department_id, agent_id)
    SELECT d.id, i FROM unnest(ids) i
    ON CONFLICT DO NOTHING;
END
$$;

-- GET /admin/departments: {"departments": [Department]} of the site, by name.
CREATE OR REPLACE FUNCTION chat_admin_departments(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('departments', coalesce(jsonb_agg(chat_department_json(d)
               ORDER BY lower(d.name)), '[]'::jsonb))
      FROM departments d
     WHERE d.site = p_site
$$;

-- POST /admin/departments: p_fields {"name", "strategy", "agent_ids", "hours"}. CH409 when the
-- site has p_max departments already (limits.h kDepartmentsPerSite: every assignment, of any
-- site, probes each department queue of a site with queued chats under the one assign lock, so
-- one site's admin must not be able to add departments without end). Counted under that lock:
-- two creates never both take the last place.
CREATE OR REPLACE FUNCTION chat_admin_department_create(p_fields jsonb, p_site text, p_max int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d departments;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    IF (SELECT count(*) FROM departments WHERE site = p_site) >= p_max THEN
        RAISE EXCEPTION 'a site has at most % departments: delete one first', p_max USING ERRCODE = 'CH409';
    END IF;
    PERFORM chat_department_check_hours(p_fields->'hours');
    BEGIN
        INSERT INTO departments (site, name, strategy, hours)
        VALUES (p_site, p_fields->>'name', coalesce(p_fields->>'strategy', 'least_loaded'),
                nullif(p_fields->'hours', 'null'::jsonb))
        RETURNING * INTO d;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a department named "%" exists on this site', p_fields->>'name'
            USING ERRCODE = 'unique_violation';
    END;
    PERFORM chat_department_set_agents(d, coalesce(p_fields->'agent_ids', '[]'::jsonb));
    RETURN jsonb_build_object('department', chat_department_json(d), 'assigned', chat_assign_queue());
END
$$;

-- PATCH /admin/departments/{id}: p_patch holds any of the fields; "hours": null clears them.
CREATE OR REPLACE FUNCTION chat_admin_department_update(p_id uuid, p_patch jsonb, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d departments;
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    SELECT * INTO d FROM departments WHERE id = p_id AND site = p_site FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'department not found' USING ERRCODE = 'CH404';
    END IF;
    PERFORM chat_department_check_hours(p_patch->'hours');
    BEGIN
        UPDATE departments SET
               name = coalesce(p_patch->>'name', name),
               strategy = coalesce(p_patch->>'strategy', strategy),
               hours = CASE WHEN p_patch ? 'hours' THEN nullif(p_patch->'hours', 'null'::jsonb) ELSE hours END,
               updated_at = clock_timestamp()
         WHERE id = p_id
        RETURNING * INTO d;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'a department named "%" exists on this site', p_patch->>'name'
            USING ERRCODE = 'unique_violation';
    END;
    IF p_patch ? 'agent_ids' THEN
        PERFORM chat_department_set_agents(d, p_patch->'agent_ids');
    END IF;
    RETURN jsonb_build_object('department', chat_department_json(d), 'assigned', chat_assign_queue());
END
$$;

-- DELETE /admin/departments/{id}: its members go, its queued chats join the default
-- queue (013's ON DELETE SET NULL), which is offered at once. {"assigned"}
CREATE OR REPLACE FUNCTION chat_admin_department_delete(p_id uuid, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(chat_assign_lock_key());
    DELETE FROM departments WHERE id = p_id AND site = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'department not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('assigned', chat_assign_queue());
END
$$;

-- GET /departments (public): {"departments": [{"id", "name", "open"}]} of the site, by
-- name; open = chat_department_open (inside its hours and a member online).
CREATE OR REPLACE FUNCTION chat_departments_public(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('departments', coalesce(jsonb_agg(
               chat_department_ref_json(d) || jsonb_build_object('open', chat_department_open(d))
               ORDER BY lower(d.name)), '[]'::jsonb))
      FROM departments d
     WHERE d.site = p_site
$$;
