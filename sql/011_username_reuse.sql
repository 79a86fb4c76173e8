-- 011_username_reuse: a deleted agent's username is free again. Soft-deleted agents keep
-- their row (history shows their name, their id stays in messages), so usernames are
-- unique among live agents only; login picks the live agent of a name.
DROP INDEX agents_username_lower_key;
CREATE UNIQUE INDEX agents_username_live_key ON agents (lower(username)) WHERE deleted_at IS NULL;
CREATE INDEX agents_username_lower_idx ON agents (lower(username));
-- GET /agent/agents' function of a build between 008 and 010 took no site: it takes one now.
DROP FUNCTION IF EXISTS chat_agent_colleagues();
