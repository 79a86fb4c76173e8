-- 003_agents: the tables of the agent side: failed logins (the rate limit) and the FAQ's
-- version.
--
-- Until 007 this file also held the agent use-case functions (assignment and its
-- concurrency proof, views, lifecycle, sweep, admin); they live in sql/functions/ now.

-- Failed logins per (username, address), kept in Postgres so the limit holds across
-- workers and nodes; rows older than the window are pruned on write.
CREATE TABLE IF NOT EXISTS login_failures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text        NOT NULL,   -- lower(username) as typed, known or not
    address   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS login_failures_key_idx ON login_failures (username, address, at);

-- The FAQ's version: every admin change bumps it, so every worker on every node reloads
-- (comparing versions on a timer).
CREATE TABLE IF NOT EXISTS chat_faq_version (
    id       bool   PRIMARY KEY DEFAULT true CHECK (id),
    version  bigint NOT NULL DEFAULT 1
);
INSERT INTO chat_faq_version (id, version) VALUES (true, 1) ON CONFLICT DO NOTHING;
