// The shapes of chat's conversations and messages as its API answers and its events carry them.
export interface Conversation {
  conversation_id: string;
  kind: "channel" | "private" | string;
  name: string;
  topic?: string;
  is_private?: boolean;
  archived?: boolean;
  default?: string | null;
  feed?: string | null;
  participants?: string[];
  members_count?: number;
  is_member?: boolean;
  created_by?: string | null;
  last_seq?: number;
  last_message_at?: string | null;
  read_up_to_seq?: number;
  unread_count?: number;
  first_unread_seq?: number | null;
}

export interface ChatAttachment {
  url: string;
  name?: string;
  content_type?: string;
  size?: number | null;
}

export interface Message {
  message_id: string;
  conversation_id?: string;
  seq: number;
  author?: { id: string; name: string } | null;
  text?: string;
  posted_at?: string;
  edited_at?: string | null;
  reply_to?: string | null;
  reply_to_seq?: number | null;
  attachments?: ChatAttachment[];
  mentions?: string[];
  deleted?: boolean;
}

export interface Member {
  staff_id: string;
  username?: string;
  display_name?: string;
  role?: string;
}

export interface MessagePage {
  messages: Message[];
  has_more_before: boolean;
  has_more_after: boolean;
}

export interface ReadAnswer {
  conversation_id: string;
  read_up_to_seq: number;
  unread_count: number;
  first_unread_seq: number | null;
  last_seq: number;
}

export interface UnreadCounts {
  unread?: number;
  unread_count?: number;
  first_unread_seq?: number | null;
  read_up_to_seq?: number | null;
  last_seq?: number | null;
}
