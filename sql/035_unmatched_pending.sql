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
-- Readers see both at every moment: unmatched_questions becomes a view (functions/92_feedback.sql)
-- of the counts (the table, renamed unmatched_counts) and the pending rows, normalised and added up per (site, day,
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

-- The view unmatched_questions (the counts and the pending questions, as readers see them) and
-- its INSTEAD OF INSERT trigger are functions/92_feedback.sql's: the view reads the pending ones
-- through chat_unmatched_text (one normal form for the view and the fold), which a function file
-- defines, and goes with it if the functions are ever dropped and applied again.

-- its one caller in each post path now appends to unmatched_pending (functions/40_messages.sql)
DROP FUNCTION IF EXISTS chat_count_unmatched(text[], text[]);
