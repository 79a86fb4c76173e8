-- functions/55_notes: agents' private notes on a conversation (API.md "Agent tools"): never a
-- seq, never in a customer's answer or socket; written by the assignee or a supervisor/admin.

-- Note = {"id", "conversation_id", "agent": {"id", "display_name"}, "text", "after_seq", "created_at"}
CREATE OR REPLACE FUNCTION chat_note_json(n notes) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    agent jsonb;
BEGIN
    SELECT jsonb_build_object('id', a.id, 'display_name', a.display_name)
      INTO agent
      FROM agents a WHERE a.id = n.agent_id;
    RETURN jsonb_build_object(
        'id', n.id,
        'conversation_id', n.conversation_id,
        'agent', agent,
        'text', n.text,
        'after_seq', n.after_seq,
        'created_at', chat_ts(n.created_at));
END
$$;

-- A conversation's latest 200 notes, oldest first: the agent view's answer stays bounded however
-- many notes a conversation collects (read backwards on notes_conversation_idx).
CREATE OR REPLACE FUNCTION chat_notes_json(conv uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(chat_note_json(n) ORDER BY n.created_at, n.id), '[]'::jsonb)
              FROM (SELECT * FROM notes WHERE conversation_id = conv
                     ORDER BY created_at DESC, id DESC LIMIT 200) n);
END
$$;

-- POST /agent/conversations/{id}/notes: by the assignee or a supervisor/admin (another
-- agent: 403), in any status; after_seq is the conversation's last_seq now (its row is
-- locked, so no message commits in between). The same client_id again returns the
-- original note ("replayed": true). {"conversation", "note", "replayed"}
CREATE OR REPLACE FUNCTION chat_agent_note(p_agent uuid, p_role text, p_conv uuid,
    p_client_id uuid, p_text text, p_site text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c conversations;
    n notes;
BEGIN
    PERFORM chat_agent_actor(p_agent);
    c := chat_agent_lock_conv(p_conv, p_agent, p_role, p_site);

    IF p_client_id IS NOT NULL THEN
        SELECT * INTO n FROM notes WHERE conversation_id = c.id AND client_id = p_client_id;
        IF FOUND THEN
            RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'agent'),
                                      'note', chat_note_json(n), 'replayed', true);
        END IF;
    END IF;
    PERFORM chat_agent_require_write(c, p_agent, p_role);

    INSERT INTO notes (conversation_id, agent_id, text, after_seq, client_id)
    VALUES (c.id, p_agent, p_text, c.last_seq, p_client_id)
    RETURNING * INTO n;
    RETURN jsonb_build_object('conversation', chat_conversation_json(c, 'agent'),
                              'note', chat_note_json(n), 'replayed', false);
END
$$;
