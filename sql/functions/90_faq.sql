-- functions/90_faq: the FAQ the bot answers from, its version, and the admin API that
-- edits it. Every change bumps chat_faq_version, so every worker on every node, comparing
-- versions on a timer, reloads.

-- An entry as the admin API shows it (FaqEntry + keywords, is_active).
CREATE OR REPLACE FUNCTION chat_faq_entry_json(f faq_entries) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('slug', f.slug, 'question', f.question, 'answer', f.answer,
                              'display_order', f.display_order, 'keywords', f.keywords,
                              'is_active', f.is_active)
$$;

-- Every FAQ change calls this: the new version, which workers compare on their timer.
-- (It used to also pg_notify('chat_faq'); nobody listened.)
CREATE OR REPLACE FUNCTION chat_faq_bump() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE chat_faq_version SET version = version + 1 WHERE id RETURNING version INTO v;
    RETURN v;
END
$$;

-- The FAQ of a site (each site has its own), active entries only unless with_inactive,
-- by display_order, with the keywords the matcher needs.
CREATE OR REPLACE FUNCTION chat_faq_json(with_inactive bool, p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(chat_faq_entry_json(f) ORDER BY f.display_order, f.slug), '[]'::jsonb)
      FROM faq_entries f
     WHERE f.site = p_site AND (with_inactive OR f.is_active)
$$;

-- The current FAQ of every site, each entry with its "site" (core keeps one set per
-- site), and its version, for a worker (re)loading its cache.
CREATE OR REPLACE FUNCTION chat_faq_current() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('version', (SELECT version FROM chat_faq_version),
                              'faq', (SELECT coalesce(jsonb_agg(chat_faq_entry_json(f)
                                                                || jsonb_build_object('site', f.site)
                                                      ORDER BY f.site, f.display_order, f.slug),
                                                      '[]'::jsonb)
                                        FROM faq_entries f WHERE f.is_active))
$$;

-- GET /admin/faq: {"faq": [FaqEntry + keywords, is_active]} of the admin's site,
-- inactive included. The admin functions below all act on p_site's entries only.
CREATE OR REPLACE FUNCTION chat_admin_faq_list(p_site text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('faq', chat_faq_json(true, p_site),
                              'version', (SELECT version FROM chat_faq_version))
$$;

-- POST /admin/faq (slug validated by core; a taken slug is 23505 -> 409).
-- {"faq", "version"}
CREATE OR REPLACE FUNCTION chat_admin_faq_create(p_slug text, p_question text,
    p_answer text, p_display_order int, p_keywords jsonb, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f faq_entries;
BEGIN
    INSERT INTO faq_entries (site, slug, question, answer, display_order, keywords)
    VALUES (p_site, p_slug, p_question, p_answer, coalesce(p_display_order, 0),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(p_keywords, '[]'::jsonb))))
    RETURNING * INTO f;
    RETURN jsonb_build_object('faq', chat_faq_entry_json(f), 'version', chat_faq_bump());
END
$$;

-- PATCH /admin/faq/{slug}: any of question, answer, display_order, keywords, is_active.
CREATE OR REPLACE FUNCTION chat_admin_faq_update(p_slug text, p_patch jsonb, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    f faq_entries;
BEGIN
    UPDATE faq_entries SET
           question = coalesce(p_patch->>'question', question),
           answer = coalesce(p_patch->>'answer', answer),
           display_order = coalesce((p_patch->>'display_order')::int, display_order),
           keywords = CASE WHEN p_patch ? 'keywords'
                           THEN ARRAY(SELECT jsonb_array_elements_text(p_patch->'keywords'))
                           ELSE keywords END,
           is_active = coalesce((p_patch->>'is_active')::bool, is_active),
           updated_at = clock_timestamp()
     WHERE site = p_site AND slug = p_slug
    RETURNING * INTO f;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'FAQ entry not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('faq', chat_faq_entry_json(f), 'version', chat_faq_bump());
END
$$;

-- POST and PATCH /admin/faq: the answer of chat_admin_faq_create or _update (p_answer,
-- computed first, as the argument), passed through while the site's FAQ stays within its
-- bounds, else CH409 (the statement rolls back, the write with it): at most p_max_entries
-- entries and p_max_bytes bytes of their JSON (limits.h kFaqEntriesPerSite, kFaqSiteBytes).
-- Every worker loads the FAQ of every site in one answer (chat_faq_current), so one site's
-- admin must not be able to grow it without end, nor past what the loader reads. Counted
-- under the site's advisory lock, taken after the write: a concurrent write of the site
-- commits before the count, so two writes never both take the last place.
CREATE OR REPLACE FUNCTION chat_admin_faq_within(p_answer jsonb, p_site text, p_max_entries int,
    p_max_bytes bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n int;
    bytes bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('chat_faq_site:' || p_site));
    SELECT count(*), coalesce(sum(octet_length(chat_faq_entry_json(f)::text)), 0)
      INTO n, bytes
      FROM faq_entries f WHERE f.site = p_site;
    IF n > p_max_entries OR bytes > p_max_bytes THEN
        RAISE EXCEPTION 'the FAQ of a site holds at most % entries and % bytes: delete or shorten some first',
            p_max_entries, p_max_bytes USING ERRCODE = 'CH409';
    END IF;
    RETURN p_answer;
END
$$;

-- DELETE /admin/faq/{slug}: a hard delete (the slug may be reused; hiding an entry
-- is PATCH is_active=false). Messages keep the answer text they showed.
CREATE OR REPLACE FUNCTION chat_admin_faq_delete(p_slug text, p_site text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM faq_entries WHERE site = p_site AND slug = p_slug;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'FAQ entry not found' USING ERRCODE = 'CH404';
    END IF;
    RETURN jsonb_build_object('deleted', p_slug, 'version', chat_faq_bump());
END
$$;
