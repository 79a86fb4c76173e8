-- functions/96_reports: GET /agent/reports (API.md "Operators", "Reports"), one site's
-- numbers over [p_from, p_to) of conversations.created_at, optionally one department's.
-- Who may ask (supervisor, admin) and the range's checks are core's (core/src/reports.cpp).
--
-- Read from conversations by (site, created_at) (018): first_response_at is kept on the
-- conversation by chat_agent_post, so no message is read for the times; the FAQ's
-- "answered" counts the bot answers (metadata "faq") of the conversations in range through
-- messages (conversation_id, seq); feedback and unmatched questions have their own tables.
-- Times in seconds (milliseconds kept), null when nothing was measured.

CREATE OR REPLACE FUNCTION chat_report_s(v double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(v::numeric, 3)::double precision
$$;

CREATE OR REPLACE FUNCTION chat_agent_reports(p_site text, p_from timestamptz, p_to timestamptz,
    p_department uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    totals jsonb;
    by_agent jsonb;
    by_day jsonb;
    faq jsonb;
    unmatched jsonb;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS chat_report_scope (
        id uuid, created_at timestamptz, requested_agent_at timestamptz,
        first_response_at timestamptz, closed_at timestamptz, assigned_agent_id uuid,
        offline bool, rating_score smallint) ON COMMIT DROP;
    TRUNCATE chat_report_scope;
    INSERT INTO chat_report_scope
    SELECT c.id, c.created_at, c.requested_agent_at, c.first_response_at, c.closed_at,
           c.assigned_agent_id, c.offline, c.rating_score
      FROM conversations c
     WHERE c.site = p_site AND c.created_at >= p_from AND c.created_at < p_to
       AND (p_department IS NULL OR c.department_id = p_department);
    ANALYZE chat_report_scope;  -- its size, for the joins below

    SELECT jsonb_build_object(
        'conversations', count(*),
        'bot_only', count(*) FILTER (WHERE requested_agent_at IS NULL),
        'escalated', count(*) FILTER (WHERE requested_agent_at IS NOT NULL),
        'offline', count(*) FILTER (WHERE offline),
        'first_response_s', jsonb_build_object(
            'p50', chat_report_s(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - requested_agent_at))),
            'p90', chat_report_s(percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - requested_agent_at)))),
        'resolution_s', jsonb_build_object(
            'p50', chat_report_s(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - requested_agent_at))),
            'p90', chat_report_s(percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - requested_agent_at)))),
        'csat', jsonb_build_object(
            'avg', round(avg(rating_score), 2)::double precision,
            'count', count(rating_score)))
      INTO totals
      FROM chat_report_scope;

    SELECT coalesce(jsonb_agg(x.j ORDER BY x.handled DESC, x.name, x.id), '[]')
      INTO by_agent
      FROM (SELECT a.id, a.display_name AS name, count(*) AS handled,
                   jsonb_build_object(
                       'agent', jsonb_build_object('id', a.id, 'display_name', a.display_name),
                       'handled', count(*),
                       'first_response_s', jsonb_build_object(
                           'p50', chat_report_s(percentile_cont(0.5) WITHIN GROUP (
                                  ORDER BY extract(epoch FROM s.first_response_at - s.requested_agent_at)))),
                       'csat', jsonb_build_object(
                           'avg', round(avg(s.rating_score), 2)::double precision,
                           'count', count(s.rating_score))) AS j
              FROM chat_report_scope s JOIN agents a ON a.id = s.assigned_agent_id
             GROUP BY a.id, a.display_name) x;

    -- every day of the range (UTC), those without conversations too: the chart's x axis
    SELECT coalesce(jsonb_agg(jsonb_build_object('date', to_char(d.day, 'YYYY-MM-DD'),
                                                 'conversations', coalesce(n.conversations, 0),
                                                 'escalated', coalesce(n.escalated, 0))
                              ORDER BY d.day), '[]')
      INTO by_day
      FROM generate_series((p_from AT TIME ZONE 'UTC')::date,
                           ((p_to - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
                           interval '1 day') AS d(day)
      LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS conversations,
                        count(*) FILTER (WHERE requested_agent_at IS NOT NULL) AS escalated
                   FROM chat_report_scope GROUP BY 1) n ON n.day = d.day::date;

    SELECT coalesce(jsonb_agg(jsonb_build_object('slug', f.slug, 'answered', f.answered,
                                                 'helpful', f.helpful, 'not_helpful', f.not_helpful)
                              ORDER BY f.answered DESC, f.slug), '[]')
      INTO faq
      FROM (SELECT slug, sum(answered) AS answered, sum(helpful) AS helpful,
                   sum(not_helpful) AS not_helpful
              FROM (SELECT m.metadata->>'faq' AS slug, count(*) AS answered, 0 AS helpful, 0 AS not_helpful
                      FROM chat_report_scope s JOIN messages m ON m.conversation_id = s.id
                     WHERE m.sender_type = 'bot' AND m.metadata ? 'faq'
                     GROUP BY 1
                    UNION ALL
                    SELECT b.faq_slug, 0, count(*) FILTER (WHERE b.helpful),
                           count(*) FILTER (WHERE NOT b.helpful)
                      FROM chat_report_scope s JOIN bot_feedback b ON b.conversation_id = s.id
                     WHERE b.faq_slug IS NOT NULL
                     GROUP BY 1) u
             GROUP BY slug) f;

    -- counted per day (UTC): the days the range touches; not per department
    SELECT coalesce(jsonb_agg(jsonb_build_object('text', t.text, 'count', t.n) ORDER BY t.n DESC, t.text), '[]')
      INTO unmatched
      FROM (SELECT u.text, sum(u.count) AS n
              FROM unmatched_questions u
             WHERE u.site = p_site
               AND u.day BETWEEN (p_from AT TIME ZONE 'UTC')::date
                             AND ((p_to - interval '1 microsecond') AT TIME ZONE 'UTC')::date
             GROUP BY u.text
             ORDER BY n DESC, u.text
             LIMIT 20) t;

    RETURN totals || jsonb_build_object('by_agent', by_agent, 'by_day', by_day, 'faq', faq,
                                        'unmatched', unmatched);
END
$$;
