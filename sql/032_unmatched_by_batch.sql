-- 032_unmatched_by_batch: chat_count_unmatched counts a batch's questions (arrays of sites and
-- texts) in one statement (issue 11: one plpgsql call per fallback post cost a tenth of the
-- batch's time); the one-question form goes (functions/92_feedback.sql has the new one).
DROP FUNCTION IF EXISTS chat_count_unmatched(text, text);
