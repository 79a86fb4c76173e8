// The newest copy of each conversation the dashboard has seen. Copies arrive from HTTP answers
// (the views, the open conversation, claim/transfer/close/reply/PATCH) and from socket events,
// in any order: an answer that left the server before a change can arrive after the change's
// event. A copy is taken only when the rule the customer widget also follows
// (../shared/newest.ts: the newer `version` wins; `closed` is terminal (API.md Lifecycle)
// unless a newer version says otherwise) lets it. main.ts passes every copy through offer().
import type { Conversation } from "../shared/types";
import { supersedes } from "../shared/newest";

export { supersedes };

const FORGET_MS = 5 * 60_000; // an id in no view and not open is forgotten after this

export class Known {
  private readonly m = new Map<string, { c: Conversation; at: number }>();

  get(id: string): Conversation | undefined { return this.m.get(id)?.c; }

  /**
   * A copy arrives: the conversation as the dashboard now knows it (the copy, over the fields
   * only the known one has, e.g. a list's last_message), and whether the copy was taken. An
   * event's unread_count is counted for whoever wrote (a customer's post carries the
   * customer's), so the known agent count is kept until an agent answer says otherwise.
   */
  offer(c: Conversation, fromEvent = false): { conv: Conversation; taken: boolean } {
    const had = this.m.get(c.id);
    if (had && !supersedes(c, had.c)) return { conv: had.c, taken: false };
    const conv = had ? { ...had.c, ...c } : c;
    if (fromEvent && had) conv.unread_count = had.c.unread_count;
    this.m.set(c.id, { c: conv, at: Date.now() });
    return { conv, taken: true };
  }

  /** forgets the ids not in `keep` that nothing offered for a while (bounded memory) */
  prune(keep: Set<string>): void {
    const old = Date.now() - FORGET_MS;
    for (const [id, e] of this.m) if (!keep.has(id) && e.at < old) this.m.delete(id);
  }
}
