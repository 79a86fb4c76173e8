-- 013_departments: departments and routing (API.md "Departments and routing", "Offline").
-- A department belongs to one site and has members (department_agents), a strategy that
-- picks which free member gets the next chat, and optional business hours. A conversation
-- may be escalated into a department (department_id; NULL is the site's default queue,
-- which every agent of the site serves), carries a priority that orders its queue before
-- age, and `offline` when it was escalated while nobody could serve it. Existing rows:
-- no department, priority normal, not offline (the column defaults).

CREATE TABLE departments (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    site        text        NOT NULL DEFAULT 'default'
        CONSTRAINT departments_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    strategy    text        NOT NULL DEFAULT 'least_loaded'
        CHECK (strategy IN ('least_loaded', 'round_robin', 'sticky')),
    -- {"tz": "Europe/Berlin", "mon": ["09:00", "17:00"], ...}; NULL: always open.
    -- Validated by core (chat::department); evaluated by chat_hours_open().
    hours       jsonb       CHECK (hours IS NULL OR jsonb_typeof(hours) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE departments IS 'Teams of agents a conversation can be escalated into; each routes by its strategy and may have business hours.';
-- a name is unique within its site, case-insensitively
CREATE UNIQUE INDEX departments_site_name_key ON departments (site, lower(name));

-- Members. last_assigned_at is round_robin's clock: the member assigned least recently
-- in THIS department goes next.
CREATE TABLE department_agents (
    department_id     uuid        NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    agent_id          uuid        NOT NULL REFERENCES agents (id),
    last_assigned_at  timestamptz,
    PRIMARY KEY (department_id, agent_id)
);
CREATE INDEX department_agents_agent_idx ON department_agents (agent_id);

-- A deleted department's queued conversations fall back to the default queue.
ALTER TABLE conversations
    ADD COLUMN department_id uuid REFERENCES departments (id) ON DELETE SET NULL,
    ADD COLUMN priority text NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- 0 is served first; derived, so it can never disagree with priority
    ADD COLUMN priority_rank smallint GENERATED ALWAYS AS (
        CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END
    ) STORED,
    ADD COLUMN offline boolean NOT NULL DEFAULT false;

-- One queue per (site, department): highest priority, then oldest.
CREATE INDEX conversations_dept_queue_idx
    ON conversations (site, department_id, priority_rank, queued_at, id)
    WHERE status = 'agent' AND assigned_agent_id IS NULL;
-- sticky: the agent who last served this customer
CREATE INDEX conversations_customer_agent_idx ON conversations (customer_id, updated_at DESC)
    WHERE assigned_agent_id IS NOT NULL;
