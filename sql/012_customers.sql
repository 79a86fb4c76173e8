-- 012_customers: a customer spans the conversations of one browser (API.md "Customer
-- identity"): a session's next conversation, after a closed one, is the same customer's.
-- Name and email come from POST /identify; the agent view shows them and the customer's
-- earlier conversations. Every existing conversation gets a customer: one per session.
CREATE TABLE customers (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    site       text        NOT NULL DEFAULT 'default'
        CONSTRAINT customers_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    name       text        CHECK (length(name) BETWEEN 1 AND 128),
    email      text        CHECK (length(email) BETWEEN 3 AND 254),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE conversations ADD COLUMN customer_id uuid REFERENCES customers (id);

CREATE TEMP TABLE customers_012 ON COMMIT DROP AS
    SELECT session_id, gen_random_uuid() AS id, min(site) AS site, min(created_at) AS at
      FROM conversations GROUP BY session_id;
INSERT INTO customers (id, site, created_at, updated_at)
    SELECT id, site, at, at FROM customers_012;
UPDATE conversations c SET customer_id = k.id FROM customers_012 k WHERE k.session_id = c.session_id;

CREATE INDEX conversations_customer_idx ON conversations (customer_id, created_at DESC);
