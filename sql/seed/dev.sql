-- Dev seed: three dev agents, two departments and two canned replies. Idempotent (ON CONFLICT DO NOTHING). The shop's FAQ is
-- sql/seed/faq.json, loaded by scripts/seed.sh with `chatctl faq import --keep-existing`.
-- Dev passwords (from issue 2, for local use only): admin / Admin@123,
-- john.doe / AgentPass123!, bibek.joshi / BibekJoshi@123!.
-- Stored only as salted scrypt: scrypt$N$r$p$<base64 salt>$<base64 32-byte key>.

INSERT INTO agents (username, display_name, role, password_hash, max_active_chats) VALUES
('admin', 'Admin', 'admin',
 'scrypt$16384$8$5$GL3I9RR0+yvKQA//Ek/c/A==$KKo0sc9XEP1wrRmUpYekPPIdmtw5a8oG18vbenKjOB0=', 5),
('john.doe', 'John Doe', 'agent',
 'scrypt$16384$8$5$+1NsKehFfDf1Xo0cQgsQSw==$vg6ExYcNwBuUKpv9WUPRK2RXdl/3/fk8YPzqNXp5578=', 5),
('bibek.joshi', 'Bibek Joshi', 'agent',
 'scrypt$16384$8$5$va+wkdTv5OAs11Y50XJuSA==$HzgLiRTY8N5RhMSs5I7Q8YAoEBULHGZOSpWqeDUQMfw=', 5)
ON CONFLICT DO NOTHING;

-- Two departments of the default site (API.md "Departments and routing"): Orders, always
-- open, served least-loaded by John and Bibek; Returns, Monday to Friday 09:00-17:00
-- Berlin time, round robin, Bibek alone. Kept as they are when they exist.
INSERT INTO departments (site, name, strategy, hours) VALUES
('default', 'Orders', 'least_loaded', NULL),
('default', 'Returns', 'round_robin',
 '{"tz": "Europe/Berlin", "mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"], "wed": ["09:00", "17:00"],
   "thu": ["09:00", "17:00"], "fri": ["09:00", "17:00"]}')
ON CONFLICT (site, lower(name)) DO NOTHING;

INSERT INTO department_agents (department_id, agent_id)
SELECT d.id, a.id
  FROM (VALUES ('Orders', 'john.doe'), ('Orders', 'bibek.joshi'), ('Returns', 'bibek.joshi')) m(dept, username)
  JOIN departments d ON d.site = 'default' AND d.name = m.dept
  JOIN agents a ON a.username = m.username AND a.deleted_at IS NULL
ON CONFLICT DO NOTHING;

-- Canned replies of the default site (API.md "Agent tools"), for the dashboard's picker; the
-- placeholders are filled in by the dashboard. Kept as they are when the shortcut exists.
INSERT INTO canned_replies (site, shortcut, title, text) VALUES
('default', 'greeting', 'Greeting', 'Hi {{customer.name}}, this is {{agent.name}}. How can I help?'),
('default', 'refund-time', 'Refund time',
 'Refunds reach your account within 5 business days after we receive the return.')
ON CONFLICT (site, shortcut) DO NOTHING;
