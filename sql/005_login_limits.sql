-- 005_login_limits: indexes for counting failed logins per address and pruning old ones
-- (issue 9, item 7), and the removal of the login functions they superseded.
--
-- The functions themselves (chat_agent_login_begin and the proof that concurrent guesses
-- cannot slip through) live in sql/functions/70_login.sql.

CREATE INDEX IF NOT EXISTS login_failures_address_idx ON login_failures (address, at);
CREATE INDEX IF NOT EXISTS login_failures_at_idx ON login_failures (at);

-- Superseded by chat_agent_login_begin (read-then-write, which let concurrent guesses
-- through, and no per-address limit).
DROP FUNCTION IF EXISTS chat_agent_login_fetch(text, text, int, int);
DROP FUNCTION IF EXISTS chat_agent_login_failed(text, text, int);
