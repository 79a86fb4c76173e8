-- 041_department_cap: chat_admin_department_create takes the most departments a site may have
-- (p_max, limits.h kDepartmentsPerSite) and refuses the one past it before writing, as
-- chat_admin_webhook_create does for webhooks (023); sql/functions/85_departments_admin.sql
-- creates the new signature. chat_admin_departments_within counted after the write, once the
-- new department had been offered to the queue under the assign lock of all sites.
DROP FUNCTION IF EXISTS chat_admin_department_create(jsonb, text);
DROP FUNCTION IF EXISTS chat_admin_departments_within(jsonb, text, int);
