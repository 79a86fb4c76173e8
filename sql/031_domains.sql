-- 031_domains: the single-column rules of the written tables become domains (issue 11).
--
-- Postgres evaluates every CHECK constraint of a table on every row an UPDATE or INSERT writes,
-- whichever columns it sets, and reads each constraint's expression tree again (stringToNode)
-- in every statement: a customer post's UPDATE of its conversation (seq, version, unread) ran
-- all 11 of conversations' checks, the site's and the tags' regular expressions among them
-- (perf: ExecConstraints 5.2 % of the backends' CPU under posts). A domain's CHECK runs only
-- where a value is coerced to it (an INSERT, or a SET of that very column), and its expression
-- is kept in the type cache. The rules are the same, word for word: a value a CHECK refused the
-- domain refuses, with the same SQLSTATE (23514 check_violation; core maps it as before).
--
-- What stays a table CHECK: the rules of several columns (a closed conversation has closed_at;
-- only status agent has an agent; only an agent's message names one) and conversations.priority,
-- which priority_rank (a generated column) is computed from: Postgres cannot change the type of
-- a column a generated column uses.
--
-- Safe on a database with data, without rewriting a table: each column first becomes a domain
-- without a constraint (binary-compatible with its type: no rewrite), its old CHECK dropped in
-- the same statement; then ALTER DOMAIN ADD CONSTRAINT checks every existing value of every
-- column of the domain (a scan, under a share lock) and fails the migration if one breaks the
-- rule. Plain btree indexes on the columns are kept as they are; Postgres rebuilds the partial
-- ones whose column changed (conversations' queue, active, closed and department-queue indexes,
-- faq_entries_active_order_idx) and the tags' GIN index (checked on a 20 000-conversation
-- schema: the table's file unchanged, those indexes new, 0.7 s).

-- A site's name (limits::kSitePattern): the tenant key of every row of a site.
CREATE DOMAIN chat_site AS text;
-- A conversation's lifecycle state (limits::kStatuses).
CREATE DOMAIN chat_conversation_status AS text;
-- A counter that never goes below zero: last_seq, the unread counts.
CREATE DOMAIN chat_count AS int;
-- A conversation's tags (017_agent_tools: limits::kTagPattern, at most limits::kTagsMax, no
-- NULL; the tags joined with spaces split back into as many).
CREATE DOMAIN chat_tags AS text[];
-- The customer's rating (limits::kRatingScore, kRatingCommentChars).
CREATE DOMAIN chat_rating_score AS smallint;
CREATE DOMAIN chat_rating_comment AS text;

ALTER TABLE conversations
    DROP CONSTRAINT conversations_site_check,
    DROP CONSTRAINT conversations_status_check,
    DROP CONSTRAINT conversations_last_seq_check,
    DROP CONSTRAINT conversations_customer_unread_check,
    DROP CONSTRAINT conversations_agent_unread_check,
    DROP CONSTRAINT conversations_tags_check,
    DROP CONSTRAINT conversations_rating_score_check,
    DROP CONSTRAINT conversations_rating_comment_check,
    ALTER COLUMN site TYPE chat_site,
    ALTER COLUMN status TYPE chat_conversation_status,
    ALTER COLUMN last_seq TYPE chat_count,
    ALTER COLUMN customer_unread TYPE chat_count,
    ALTER COLUMN agent_unread TYPE chat_count,
    ALTER COLUMN tags TYPE chat_tags,
    ALTER COLUMN rating_score TYPE chat_rating_score,
    ALTER COLUMN rating_comment TYPE chat_rating_comment;

ALTER TABLE faq_entries DROP CONSTRAINT faq_entries_site_check, ALTER COLUMN site TYPE chat_site;
ALTER TABLE customers DROP CONSTRAINT customers_site_check, ALTER COLUMN site TYPE chat_site;
ALTER TABLE departments DROP CONSTRAINT departments_site_check, ALTER COLUMN site TYPE chat_site;
ALTER TABLE canned_replies DROP CONSTRAINT canned_replies_site_check, ALTER COLUMN site TYPE chat_site;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_site_check, ALTER COLUMN site TYPE chat_site;

ALTER DOMAIN chat_site ADD CONSTRAINT chat_site_check CHECK (VALUE ~ '^[a-z0-9][a-z0-9._-]{0,62}$');
ALTER DOMAIN chat_conversation_status ADD CONSTRAINT chat_conversation_status_check
    CHECK (VALUE IN ('automated', 'agent', 'closed'));
ALTER DOMAIN chat_count ADD CONSTRAINT chat_count_check CHECK (VALUE >= 0);
ALTER DOMAIN chat_tags ADD CONSTRAINT chat_tags_check CHECK (
    cardinality(VALUE) <= 10 AND array_position(VALUE, NULL) IS NULL
    AND (cardinality(VALUE) = 0
         OR (array_to_string(VALUE, ' ') ~ '^[a-z0-9][a-z0-9_-]{0,31}( [a-z0-9][a-z0-9_-]{0,31})*$'
             AND cardinality(string_to_array(array_to_string(VALUE, ' '), ' ')) = cardinality(VALUE))));
ALTER DOMAIN chat_rating_score ADD CONSTRAINT chat_rating_score_check CHECK (VALUE BETWEEN 1 AND 5);
ALTER DOMAIN chat_rating_comment ADD CONSTRAINT chat_rating_comment_check
    CHECK (char_length(VALUE) BETWEEN 1 AND 1000);
