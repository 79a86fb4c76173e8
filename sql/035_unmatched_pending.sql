-- 035_unmatched_pending: the unanswered-question count off the post's upsert (issue 11, wave 16).
--
-- A post the bot answered with its fallback counted its question in the post's transaction:
-- chat_count_unmatched normalised the text (regexp) and upserted this backend's row of
-- (site, day, text) (an index lookup, the row's update, its WAL), ~5 % of a mixed batch. Now the
-- post appends its raw question to unmatched_pending (a heap row, no index, no conflict to
-- resolve, nothing normalised), committed with the post as before: no count is lost, none
-- counted twice. chat_unmatched_fold (functions/92_feedback.sql), called once a second by the
-- workers' timer (chat::unmatched::Folder), moves pending rows into the counts in one
-- transaction (DELETE .. RETURNING into the upsert: each row counted once), normalised and
-- added up a second at a time.
--
-- Readers see both at every moment: unmatched_questions becomes a view of the counts (the
-- table, renamed unmatched_counts) and the pending rows, normalised and added up per (site, day,
-- text, backend), so the reports (chat_agent_reports, which add up a text's rows) answer exactly
-- what they answered before, before or after a fold. An INSERT into the view (a backfill,
-- the tests) writes the counts; the CHECKs stay the table's.

ALTER TABLE unmatched_questions RENAME TO unmatched_counts;
ALTER TABLE unmatched_counts RENAME CONSTRAINT unmatched_questions_pkey TO unmatched_counts_pkey;
ALTER TABLE unmatched_counts RENAME CONSTRAINT unmatched_questions_text_check TO unmatched_counts_text_check;
ALTER TABLE unmatched_counts RENAME CONSTRAINT unmatched_questions_count_check TO unmatched_counts_count_check;
COMMENT ON TABLE unmatched_counts IS 'Questions the FAQ bot could not answer, per site and day, folded from unmatched_pending (reports "unmatched": the view unmatched_questions).';

-- A question the bot fell back on, as posted, until the fold counts it: its conversation's
-- site, the post's day (UTC) and the posting backend (the view's rows per backend, as the table's
-- were until the fold adds them into the counts' backend 0).
CREATE TABLE unmatched_pending (
    site    text NOT NULL,
    day     date NOT NULL,
    backend int  NOT NULL,
    content text NOT NULL
);
COMMENT ON TABLE unmatched_pending IS 'Questions the FAQ bot could not answer, not yet folded into unmatched_counts.';

-- The view's normal form is chat_unmatched_text's (functions/92_feedback.sql, which runs after
-- the migrations: defined here first for a fresh database; the file replaces it unchanged).
CREATE OR REPLACE FUNCTION chat_unmatched_text(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(left(btrim(regexp_replace(lower(p_text), '\s+', ' ', 'g')), 200)), '')
$$;

-- The pending questions added up as posted first (one normal form, a regexp, per distinct text;
-- OFFSET 0: else the filter on the normal form is pushed under that GROUP BY, a regexp a row),
-- then per normal form. A key may have a row of each part (the counts' and the pending ones'):
-- readers add them up, as they add up the rows of several backends.
CREATE VIEW unmatched_questions AS
SELECT site, day, text, backend, count FROM unmatched_counts
UNION ALL
SELECT site, day, text, backend, sum(n)::bigint
  FROM (SELECT site, day, backend, chat_unmatched_text(content) AS text, n
          FROM (SELECT site, day, backend, content, count(*) AS n
                  FROM unmatched_pending GROUP BY site, day, backend, content OFFSET 0) r) p
 WHERE text IS NOT NULL
 GROUP BY site, day, text, backend;
ALTER VIEW unmatched_questions ALTER COLUMN backend SET DEFAULT 0;
ALTER VIEW unmatched_questions ALTER COLUMN count SET DEFAULT 1;
COMMENT ON VIEW unmatched_questions IS 'Questions the FAQ bot could not answer, per site and day (reports "unmatched"): the counts and the pending questions.';

CREATE FUNCTION chat_unmatched_questions_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unmatched_counts (site, day, text, backend, count)
    VALUES (NEW.site, NEW.day, NEW.text, NEW.backend, NEW.count);
    RETURN NEW;
END
$$;
CREATE TRIGGER unmatched_questions_insert INSTEAD OF INSERT ON unmatched_questions
    FOR EACH ROW EXECUTE FUNCTION chat_unmatched_questions_insert();

-- its one caller in each post path now appends to unmatched_pending (functions/40_messages.sql)
DROP FUNCTION IF EXISTS chat_count_unmatched(text[], text[]);
