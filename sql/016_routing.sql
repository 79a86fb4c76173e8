-- 016_routing: escalation into a department (API.md "Departments and routing", "Offline").
-- chat_escalate takes the department and the away message now (sql/functions/50_assignment.sql);
-- CREATE OR REPLACE cannot change a function's arguments, so the old one goes first.
DROP FUNCTION IF EXISTS chat_escalate(text, text);
