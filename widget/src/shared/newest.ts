// The one rule for copies that arrive out of order, shared by the customer widget and the agent
// dashboard: an HTTP answer that left the server before a change can reach the page after the
// change's event (or after a newer answer). Every change of a conversation bumps its `version`
// (chat_conversation_json; an agent's or a customer's read that marked something included), so
// the page keeps the copy with the higher version; and a message's read_at, once set, stays (a
// read is never undone; a copy without it is only older).
import type { Conversation, Message } from "./types";

/** may `next` replace `known` (a copy of the same conversation)? Equal versions are the same
 *  state (queue_position moves without a version bump); without versions, closed stays closed */
export function supersedes(next: Conversation, known: Conversation | null | undefined): boolean {
  if (!known || known.id !== next.id) return true;
  const nv = next.version, kv = known.version;
  if (typeof nv === "number" && typeof kv === "number" && nv !== kv) return nv > kv;
  return !(known.status === "closed" && next.status !== "closed");
}

/** the message to keep when a copy `next` of a known one arrives: the copy, keeping a read_at
 *  the known one already has (an older copy, from before the read, says null) */
export function newestMessage(next: Message, known: Message | undefined): Message {
  if (!known || !known.read_at || next.read_at) return next;
  return { ...next, read_at: known.read_at };
}
