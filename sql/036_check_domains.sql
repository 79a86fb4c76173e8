-- 036_check_domains: the single-column CHECKs a customer post runs become domains, as
-- 031_domains did for most of conversations' (issue 11, session 19): messages' seq, sender_type
-- and kind, and conversations' priority.
--
-- Postgres 15 reads every table CHECK's stored expression again (stringToNode of
-- pg_constraint.conbin, ~24 000 instructions a constraint, then the planner's constant folding:
-- an IN list is stored as an ARRAY[] of constants, built again each time) at the start of every
-- INSERT or UPDATE of the table (ExecRelCheck), and runs each as an expression of its own on every
-- row. A post's batch (chat_customer_post_batch_v2) starts one UPDATE of conversations (3 CHECKs)
-- and one INSERT into messages (4) a call: ExecConstraints was 23 300 of a cold post's ~410 000
-- instructions (callgrind, bench/batch-ab.sh; README "Session 19, wt-checks"). A domain's CHECK is
-- parsed and folded once per backend (the type cache), and runs inside the statement's own
-- expression, only where a value is coerced to it (an INSERT, or a SET of that column: the post's
-- UPDATE sets no priority). The rules are the same, word for word: a value a CHECK refused the
-- domain refuses, with the same SQLSTATE (23514 check_violation), and t/07-limits.t finds each
-- list on the domain. Postgres instructions a post: -2.8 % (messages' -1.1 %, priority's -1.5 %
-- with the generated column below).
--
-- What stays a table CHECK: the rules of two columns (a closed conversation has closed_at; only
-- status agent has an agent; only an agent's message names one).
--
-- Safe on a database with data, in 031's way: each column first becomes a domain without a
-- constraint (binary-compatible with its type: no table is rewritten), its old CHECK dropped in
-- the same statement; then ALTER DOMAIN ADD CONSTRAINT checks every existing value (a scan under
-- a share lock) and fails the migration if one breaks the rule. The btree indexes on the columns
-- are kept as they are (messages_conversation_id_seq_key); Postgres rebuilds the two partial
-- indexes whose predicate reads sender_type (messages_content_fts_idx, the full-text GIN, and
-- messages_bot_text_hash_idx): on a large shop the longest part, a CREATE INDEX of each.

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

-- conversations.priority as a domain too (the UPDATE of every post ran its CHECK). Postgres
-- cannot change the type of a column a stored generated column is computed from, and 15 sets up
-- a stored generated column's expression (stringToNode of its default) at every UPDATE of the
-- table, whatever it sets: priority_rank (013) cost a post ~3 500 instructions that way. It
-- existed only for the department queues' index: the index now holds the same rank as an
-- expression, computed only where an entry is written (a queued conversation), and its readers
-- (chat_queue_position, chat_assign_queue) write the same CASE out, as the index has it. The
-- serving order is the same (urgent 0, high 1, normal 2, low 3, then queued_at, then id).
-- Dropping the column rewrites nothing; the index is built again over the queued conversations
-- only (its predicate).
CREATE DOMAIN chat_priority AS text;
DROP INDEX conversations_dept_queue_idx;
ALTER TABLE conversations DROP COLUMN priority_rank;
ALTER TABLE conversations DROP CONSTRAINT conversations_priority_check,
    ALTER COLUMN priority TYPE chat_priority;
ALTER DOMAIN chat_priority ADD CONSTRAINT chat_priority_check
    CHECK (VALUE IN ('low', 'normal', 'high', 'urgent'));
-- One queue per (site, department): highest priority, then oldest (as 013's).
CREATE INDEX conversations_dept_queue_idx
    ON conversations (site, department_id,
                      (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END),
                      queued_at, id)
    WHERE status = 'agent' AND assigned_agent_id IS NULL;
