-- 002_conversations: conversations carry a version, bumped by every change, so cached
-- copies and realtime events apply in order (API.md "version").
--
-- Until 007 this file also held the customer use-case functions; they live in
-- sql/functions/ now, re-applied by every migrate.

ALTER TABLE conversations
    ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1;
