-- 036_message_domains: messages' single-column rules become domains, as 031_domains did for
-- conversations' (issue 11, session 19).
--
-- Postgres 15 reads every table CHECK's stored expression again (stringToNode of
-- pg_constraint.conbin, then the planner's constant folding: an IN list is stored as an ARRAY[]
-- of constants, built again each time) at the start of every INSERT or UPDATE of the table
-- (ExecRelCheck), and runs each as an expression of its own on every row. A customer post's
-- batch (chat_customer_post_batch_v2) starts one INSERT into messages per call, with its four
-- CHECKs: 9 700 of a post's ~410 000 instructions were stringToNode of the call's 7 table CHECKs
-- (messages' 4, conversations' 3), 23 300 all of ExecConstraints (callgrind, bench/batch-ab.sh;
-- README "Session 19, wt-checks"). A domain's CHECK is parsed and folded once per backend (the
-- type cache), and runs inside the statement's own expression where a value is coerced to it.
-- The rules are the same, word for word: a value a CHECK refused the domain refuses, with the
-- same SQLSTATE (23514 check_violation), and t/07-limits.t finds each list on the domain.
--
-- What stays a table CHECK: only an agent's message names an agent (messages_check, two
-- columns).
--
-- Safe on a database with data, in 031's way: each column first becomes a domain without a
-- constraint (binary-compatible with its type: the table is not rewritten), its old CHECK
-- dropped in the same statement; then ALTER DOMAIN ADD CONSTRAINT checks every existing value
-- (a scan of messages under a share lock) and fails the migration if one breaks the rule. The
-- btree indexes on the columns are kept as they are (messages_conversation_id_seq_key); Postgres
-- rebuilds the two partial indexes whose predicate reads sender_type (messages_content_fts_idx,
-- the full-text GIN, and messages_bot_text_hash_idx): on a large shop the longest part, as a
-- CREATE INDEX of each.

-- A message's number within its conversation, from 1 (conversations.last_seq is the last one).
CREATE DOMAIN chat_message_seq AS int;
-- Who wrote a message (limits::kSenderTypes).
CREATE DOMAIN chat_sender_type AS text;
-- What a message is (limits::kMessageKinds).
CREATE DOMAIN chat_message_kind AS text;

ALTER TABLE messages
    DROP CONSTRAINT messages_seq_check,
    DROP CONSTRAINT messages_sender_type_check,
    DROP CONSTRAINT messages_kind_check,
    ALTER COLUMN seq TYPE chat_message_seq,
    ALTER COLUMN sender_type TYPE chat_sender_type,
    ALTER COLUMN kind TYPE chat_message_kind;

ALTER DOMAIN chat_message_seq ADD CONSTRAINT chat_message_seq_check CHECK (VALUE >= 1);
ALTER DOMAIN chat_sender_type ADD CONSTRAINT chat_sender_type_check
    CHECK (VALUE IN ('customer', 'bot', 'agent', 'system'));
ALTER DOMAIN chat_message_kind ADD CONSTRAINT chat_message_kind_check
    CHECK (VALUE IN ('text', 'quick_reply', 'event'));
