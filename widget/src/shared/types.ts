// The objects of ../../shared/API.md, as the front ends see them.
export type Status = "automated" | "agent" | "closed";
export type SenderType = "customer" | "bot" | "agent" | "system";

export interface AgentRef { id: string; display_name: string }

export interface Agent {
  id: string; username: string; display_name: string;
  role: "agent" | "supervisor" | "admin";
  presence: "online" | "away" | "offline";
  max_active_chats: number; active_chats: number;
}

export interface Context { product_id?: string; product_name?: string; page_url?: string }

export interface Conversation {
  id: string; status: Status;
  assigned_agent: AgentRef | null;
  queue_position: number | null;
  context: Context;
  last_seq: number; unread_count: number;
  created_at: string; updated_at: string;
  requested_agent_at: string | null; closed_at: string | null;
  customer?: Customer | null;
  last_message?: Message | null;
  department?: DepartmentRef | null;
  priority?: Priority;
  offline?: boolean;
  rating?: Rating | null;
  /** grows with every change of the conversation: the newer of two copies has the higher one */
  version?: number;
}

export interface Rating { score: number; comment: string | null }

export type Priority = "low" | "normal" | "high" | "urgent";
export interface DepartmentRef { id: string; name: string }
/** GET /departments (public): whether it can answer now */
export interface PublicDepartment extends DepartmentRef { open: boolean }

export interface Customer { id: string; name: string | null; email: string | null }

export interface Message {
  id: string; conversation_id: string; seq: number;
  sender_type: SenderType; sender_agent_id: string | null;
  kind: "text" | "quick_reply" | "event";
  content: string; metadata: Record<string, unknown>;
  created_at: string; read_at: string | null;
}

export interface FaqEntry { slug: string; question: string; answer: string; display_order: number; is_active?: boolean; keywords?: string[] }

export interface ChatEvent {
  type: string; conversation_id?: string; seq?: number;
  data?: any;
}
