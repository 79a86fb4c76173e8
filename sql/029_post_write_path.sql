-- 029_post_write_path: a customer post's Postgres CPU (issue 11): the bot's replies leave the message
-- text's full-text index, and messages lose their foreign key to conversations.
--
-- The bot's replies are a few texts (the FAQ's answers, the fallback, the greeting) repeated in
-- every conversation, and long: to_tsvector of each reply and its ~30 words into the GIN index
-- were ~15 % of Postgres's CPU per customer post (perf: to_tsvector, gininsert, the pending
-- list's merge). messages_content_fts_idx now indexes every other message (customer, agent,
-- system); each distinct bot text is stored once in bot_texts, with its own full-text index, and
-- a bot message is found from its text by md5(content) (messages_bot_text_idx: a 16-byte key).
-- q= searches both (chat_search_conversation_ids, sql/functions/60_agent_views.sql); the writers
-- of bot messages add their texts (chat_bot_texts_add, sql/functions/40_messages.sql).
CREATE TABLE bot_texts (
    hash     uuid PRIMARY KEY,   -- md5(content)::uuid, as messages_bot_text_idx
    content  text NOT NULL
);
COMMENT ON TABLE bot_texts IS 'Each distinct text the bot has written, once: q= finds bot messages through it.';
-- rarely written (a new FAQ answer): no pending list
CREATE INDEX bot_texts_fts_idx ON bot_texts USING gin (to_tsvector('simple', content))
    WITH (fastupdate = off);

INSERT INTO bot_texts (hash, content)
SELECT DISTINCT ON (md5(content)::uuid) md5(content)::uuid, content
  FROM messages WHERE sender_type = 'bot';

CREATE INDEX messages_bot_text_idx ON messages ((md5(content)::uuid)) WHERE sender_type = 'bot';
DROP INDEX messages_content_fts_idx;
CREATE INDEX messages_content_fts_idx ON messages USING gin (to_tsvector('simple', content))
    WHERE sender_type <> 'bot';

-- The foreign key messages.conversation_id -> conversations goes too (issue 11): its check was
-- one SPI query per inserted message (2 a customer post: ~7 % of the backends' CPU in perf,
-- -15 % us/post without it). Every writer of a message holds its conversation's row (FOR UPDATE,
-- or the UPDATE of last_seq in the same statement or transaction) and a conversation is only
-- deleted by chat_retention_sweep and chat_erase_customer; whoever deletes one, its messages go
-- with it by the statement-level trigger chat_conversations_gone (sql/functions/97_retention.sql),
-- the key's ON DELETE CASCADE without its check on every insert.
ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey;
