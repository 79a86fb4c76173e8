-- 014_write_path_indexes: fewer index entries per customer post (issue 11, the write path).
-- client_id is unique per conversation only where it is set: the bot's replies (and system
-- and agent rows without one) no longer get an entry in that index, one index insert less per
-- post. NULLs never conflicted in the old constraint, so what it enforces is unchanged, and
-- the lookup by (conversation_id, client_id = $1) implies client_id IS NOT NULL, so it still
-- uses the index. conversations_updated_idx (updated_at DESC, id) served the agent views before
-- they were per site; conversations_site_updated_idx (010_sites) serves them now, and every
-- post changes updated_at, i.e. inserts into each index on it.
CREATE UNIQUE INDEX messages_conversation_client_id_key ON messages (conversation_id, client_id)
    WHERE client_id IS NOT NULL;
ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_client_id_key;
DROP INDEX conversations_updated_idx;
