-- 039_priority_rank_index: the department queues' index holds the priority's rank exactly as
-- chat_priority_rank (sql/functions/10_common.sql) computes it, so that its readers
-- (chat_queue_position, chat_assign_queue) call that one function instead of each writing the
-- rank's CASE out as 036_check_domains' index had it (six copies in two functions).
--
-- A migration cannot call a function of the function files (they are applied after the
-- migrations), so the rank is written out here once more: keep it the same as
-- chat_priority_rank's. The planner inlines that SQL function; its argument is the column
-- coerced to text (chat_priority_rank takes text: the function files must apply to a schema
-- migrated only to 030, where the domain chat_priority does not exist yet), so the index's
-- expression reads `priority::text` too and the inlined call matches it (EXPLAIN: the count of
-- chat_queue_position and the ORDER BY of chat_assign_queue are index ranges of it, as before).
-- The serving order is the same (urgent 0, high 1, normal 2, low 3, then queued_at, then id).
--
-- Safe on a database with data: the index covers only queued conversations (its predicate),
-- built again under a SHARE lock on conversations (writes to conversations wait for it; on a
-- large shop that is the queued conversations' count of rows, a few milliseconds).
DROP INDEX conversations_dept_queue_idx;
CREATE INDEX conversations_dept_queue_idx
    ON conversations (site, department_id,
                      (CASE priority::text WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END),
                      queued_at, id)
    WHERE status = 'agent' AND assigned_agent_id IS NULL;
