-- functions/95_events: what a realtime event tells about a conversation changed as a
-- side effect of another write.

-- What a realtime event needs to tell about a conversation changed as a side effect
-- of another write (assigned or requeued by someone else's action): the conversation
-- and its newest message (the system message that change added), its site (whose
-- agents hear it) and both sides' unread counts (chat_unread_json); the last two never
-- sent to clients.
CREATE OR REPLACE FUNCTION chat_conversation_event_json(conv uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('conversation', chat_conversation_json(c, 'customer'),
                              'messages', chat_last_messages_json(c.id, 1),
                              'site', c.site, 'unread', chat_unread_json(c))
      FROM conversations c WHERE c.id = conv
$$;
