-- functions/98_search_index: the full-text search index's pending list, merged off the post path.
--
-- messages_content_fts_idx (017_agent_tools: GIN, fastupdate) takes new messages' words into a
-- pending list; the insert that finds the list past gin_pending_list_limit (4 MB) merges all of
-- it into the index inside its own transaction. Under load that was one post batch in every 2-3 s
-- stalled ~50 ms (450-520 pages a merge at 2 300 posts/s), every post queued behind it with it:
-- the write path's p99. Every nginx worker calls this once a second instead (ngx_http_chat_worker,
-- chat::search_index), so the list is merged in a second's pieces by a query no post waits on.
-- One caller at a time (other workers and nodes find the lock taken and return -1: a merge
-- already running would make them wait for it). The index is the chat role's (migrations create
-- it), which gin_clean_pending_list requires; a database whose index belongs to another role
-- answers -2 instead of failing every second. Returns the pages merged.
-- The lock is per index, (72435, the index's oid): a database may hold several schemas of the
-- chat (the core tests' own), each with its own index and its own merges.
CREATE OR REPLACE FUNCTION chat_search_index_flush() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    idx regclass := 'messages_content_fts_idx'::regclass;
BEGIN
    IF NOT pg_try_advisory_xact_lock(72435, idx::oid::int) THEN
        RETURN -1;
    END IF;
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = idx), 'USAGE') THEN
        RETURN -2;
    END IF;
    RETURN gin_clean_pending_list(idx);
END
$$;
