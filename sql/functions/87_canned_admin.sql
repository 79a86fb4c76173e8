-- functions/87_canned_admin: canned replies of a site (API.md "Agent tools", "Admin"): the
-- list every agent of the site reads, and the admin API. A shortcut is unique per site
-- (409 conflict); another site's id is 404, as an unknown one.

-- Canned = {"id", "shortcut", "title", "text"}
CREATE OR REPLACE FUNCTION chat_canned_json(r canned_replies) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', r.id, 'shortcut', r.shortcut, 'title', r.title, 'text', r.text)
$$;

-- GET /agent/canned, GET /admin/canned: {"canned": [Canned]} of the site, by shortcut.
CREATE OR REPLACE FUNCTION chat_canned_list(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('canned', coalesce(jsonb_agg(chat_canned_json(r) ORDER BY r.shortcut), '[]'::jsonb))
      FROM canned_replies r
     WHERE r.site = p_site
$$;

-- POST /admin/canned: p_fields {"shortcut", "title", "text"}. {"canned"}
CREATE OR REPLACE FUNCTION chat_admin_canned_create(p_fields jsonb, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r canned_replies;
BEGIN
    INSERT INTO canned_replies (site, shortcut, title, text)
    VALUES (p_site, p_fields->>'shortcut', p_fields->>'title', p_fields->>'text')
    RETURNING * INTO r;
    RETURN jsonb_build_object('canned', chat_canned_json(r));
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'the shortcut "%" is taken on this site', p_fields->>'shortcut'
        USING ERRCODE = 'unique_violation';
END
$$;

-- PATCH /admin/canned/{id}: p_patch holds any of the fields. {"canned"}
CREATE OR REPLACE FUNCTION chat_admin_canned_update(p_id uuid, p_patch jsonb, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r canned_replies;
BEGIN
    UPDATE canned_replies SET
           shortcut = coalesce(p_patch->>'shortcut', shortcut),
           title = coalesce(p_patch->>'title', title),
           text = coalesce(p_patch->>'text', text),
           updated_at = clock_timestamp()
     WHERE id = p_id AND site = p_site
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'canned reply not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('canned', chat_canned_json(r));
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'the shortcut "%" is taken on this site', p_patch->>'shortcut'
        USING ERRCODE = 'unique_violation';
END
$$;

-- DELETE /admin/canned/{id}: {}
CREATE OR REPLACE FUNCTION chat_admin_canned_delete(p_id uuid, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM canned_replies WHERE id = p_id AND site = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'canned reply not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN '{}'::jsonb;
END
$$;
