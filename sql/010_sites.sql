-- 010_sites: sites (multi-tenant, `chat_site NAME;`). A site is a name, not a row: it
-- exists as soon as a configuration names it, so nothing registers it; it is the tenant
-- key on every row that belongs to one site (conversations and FAQ entries now; later
-- departments, canned replies, webhooks and report rows carry the same column), and
-- agents hold the list of sites they are granted. Existing rows belong to 'default',
-- the site of a configuration without chat_site. The name's rule is
-- chat::limits::kSitePattern (t/07-limits.t checks these CHECKs against it).

ALTER TABLE conversations
    ADD COLUMN site text NOT NULL DEFAULT 'default'
        CONSTRAINT conversations_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$');

ALTER TABLE faq_entries
    ADD COLUMN site text NOT NULL DEFAULT 'default'
        CONSTRAINT faq_entries_site_check CHECK (site ~ '^[a-z0-9][a-z0-9._-]{0,62}$');

-- 1..100 names (limits::kAgentSitesMax), each a site name; no NULL among them.
ALTER TABLE agents
    ADD COLUMN sites text[] NOT NULL DEFAULT '{default}'
        CONSTRAINT agents_sites_check CHECK (
            cardinality(sites) BETWEEN 1 AND 100
            AND array_position(sites, NULL) IS NULL
            AND array_to_string(sites, ' ') ~ '^[a-z0-9][a-z0-9._-]{0,62}( [a-z0-9][a-z0-9._-]{0,62})*$');

-- A slug is unique within its site.
ALTER TABLE faq_entries DROP CONSTRAINT IF EXISTS faq_entries_slug_key;
ALTER TABLE faq_entries ADD CONSTRAINT faq_entries_site_slug_key UNIQUE (site, slug);
DROP INDEX IF EXISTS faq_entries_active_order_idx;
CREATE INDEX faq_entries_active_order_idx ON faq_entries (site, display_order, id) WHERE is_active;

-- The site-scoped reads: a site's queue (oldest first) and its closed/"all" views
-- (newest first). The agent's own active chats keep conversations_agent_active_idx.
CREATE INDEX conversations_site_queue_idx ON conversations (site, queued_at, id)
    WHERE status = 'agent' AND assigned_agent_id IS NULL;
CREATE INDEX conversations_site_updated_idx ON conversations (site, updated_at DESC, id);
-- GET /admin/agents of a site: sites @> ARRAY[site]
CREATE INDEX agents_sites_idx ON agents USING gin (sites);

-- The functions that now take the site (sql/functions/ creates them again with it).
DROP FUNCTION IF EXISTS chat_open_session(text, jsonb, text, int);
DROP FUNCTION IF EXISTS chat_agent_can_see(conversations, uuid, text);
DROP FUNCTION IF EXISTS chat_agent_lock_conv(uuid, uuid, text);
DROP FUNCTION IF EXISTS chat_agent_conversations(uuid, text, text, int, bigint, uuid);
DROP FUNCTION IF EXISTS chat_agent_conversation(uuid, text, uuid, int, int);
DROP FUNCTION IF EXISTS chat_agent_post(uuid, text, uuid, uuid, text);
DROP FUNCTION IF EXISTS chat_agent_read(uuid, text, uuid, int);
DROP FUNCTION IF EXISTS chat_agent_claim(uuid, text, uuid);
DROP FUNCTION IF EXISTS chat_agent_transfer(uuid, text, uuid, uuid);
DROP FUNCTION IF EXISTS chat_agent_close(uuid, text, uuid);
DROP FUNCTION IF EXISTS chat_agent_login_begin(text, text, int, int, int);
DROP FUNCTION IF EXISTS chat_agent_auth(uuid, bigint);
DROP FUNCTION IF EXISTS chat_admin_agents(bool);
DROP FUNCTION IF EXISTS chat_admin_agent_create(text, text, text, text, int);
DROP FUNCTION IF EXISTS chat_admin_agent_update(uuid, jsonb, text);
DROP FUNCTION IF EXISTS chat_admin_agent_delete(uuid);
DROP FUNCTION IF EXISTS chat_faq_json(bool);
DROP FUNCTION IF EXISTS chat_admin_faq_list();
DROP FUNCTION IF EXISTS chat_admin_faq_create(text, text, text, int, jsonb);
DROP FUNCTION IF EXISTS chat_admin_faq_update(text, jsonb);
DROP FUNCTION IF EXISTS chat_admin_faq_delete(text);
