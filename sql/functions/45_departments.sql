-- functions/45_departments: what a department is to the rest of the SQL: its JSON, whether
-- its business hours are open at an instant, and whether it can serve a chat now (open
-- and a member online). Routing (50_assignment) and the admin and public endpoints use
-- these, so "open" means one thing everywhere.

-- Business hours {"tz": "Europe/Berlin", "mon": ["09:00", "17:00"], ...} at an instant:
-- the local weekday's [start, end) span holds the local time. A day without a span is
-- closed; NULL hours are always open. "24:00" ends a span at midnight. The time zone is
-- an IANA name (checked against pg_timezone_names when the hours are saved).
CREATE OR REPLACE FUNCTION chat_hours_open(h jsonb, at timestamptz) RETURNS bool
LANGUAGE plpgsql STABLE AS $$
DECLARE
    local timestamp;
    span jsonb;
    t text;
BEGIN
    IF h IS NULL THEN
        RETURN true;
    END IF;
    local := at AT TIME ZONE (h->>'tz');
    -- 'Dy' without the TM prefix is always English: mon, tue, ...
    span := h->lower(to_char(local, 'Dy'));
    IF span IS NULL OR jsonb_typeof(span) <> 'array' OR jsonb_array_length(span) <> 2 THEN
        RETURN false;
    END IF;
    t := to_char(local, 'HH24:MI');
    RETURN t >= span->>0 AND t < span->>1;
END
$$;

-- Members who could take a chat now: online, not deleted, still granted the site.
CREATE OR REPLACE FUNCTION chat_department_online(d departments) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM department_agents m JOIN agents g ON g.id = m.agent_id
         WHERE m.department_id = d.id AND g.presence = 'online' AND g.deleted_at IS NULL
           AND d.site = ANY (g.sites))
$$;

-- API.md `open`: inside its hours and someone in it online.
CREATE OR REPLACE FUNCTION chat_department_open(d departments) RETURNS bool
LANGUAGE sql STABLE AS $$
    SELECT chat_hours_open(d.hours, clock_timestamp()) AND chat_department_online(d)
$$;

-- {"id", "name"} as a Conversation or an Agent shows it.
CREATE OR REPLACE FUNCTION chat_department_ref_json(d departments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', d.id, 'name', d.name)
$$;

-- API.md Department.
CREATE OR REPLACE FUNCTION chat_department_json(d departments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id,
        'name', d.name,
        'strategy', d.strategy,
        'agent_ids', coalesce((SELECT jsonb_agg(m.agent_id ORDER BY m.agent_id)
                                 FROM department_agents m
                                WHERE m.department_id = d.id), '[]'::jsonb),
        'hours', d.hours)
$$;
