-- Dev seed: three dev agents. Idempotent (ON CONFLICT DO NOTHING). The shop's FAQ is
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
