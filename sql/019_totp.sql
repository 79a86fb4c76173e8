-- 019_totp: the agents' second factor (API.md "Agent second factor (TOTP, RFC 6238)").
--
-- totp_secret is a box (core/include/chat/secret_box.h: AES-256-GCM under a key derived
-- from chat_secret, bound to the agent's id), never the secret itself: the database and
-- its backups alone cannot produce a code. It is set by setup and holds while enabled.
-- totp_last_step is the time step of the last code accepted (login, enable, disable): a
-- code is accepted only for a later step, so a code once used never works again.
ALTER TABLE agents
    ADD COLUMN totp_secret    text,
    ADD COLUMN totp_enabled   boolean NOT NULL DEFAULT false,
    ADD COLUMN totp_last_step bigint,
    ADD CONSTRAINT agents_totp_enabled_has_secret CHECK (NOT totp_enabled OR totp_secret IS NOT NULL);

-- Login's step 2b takes the code's step now (sql/functions/70_login.sql): the form without
-- it goes, so a worker of the previous version can never log an agent in without a code.
DROP FUNCTION IF EXISTS chat_agent_login_ok(uuid, bigint, text, text);
