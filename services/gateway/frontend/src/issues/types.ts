// The shapes of customer issues as the issues and ingest services answer and push them.
export type IssueStatus = "unassigned" | "assigned" | "closed";
export type IssueAction = "resolve" | "assign" | "take" | "close" | "reopen" | "comment" | "reply";
export type Channel = "sms" | "email";

export interface StaffRef {
  id: string;
  name: string;
}

export interface IssueSnapshot {
  issue_id: string;
  number?: number | null;
  customer_id: string;
  customer_name?: string | null;
  customer_label?: string | null;
  sms_opted_out_at?: string | null;
  channel: Channel;
  status: IssueStatus;
  assignee?: StaffRef | null;
  closed_by?: StaffRef | null;
  resolution?: string | null;
  summary?: string;
  opened_at: string;
  updated_at: string;
  message_count?: number;
  needs_attention?: boolean | null;
  suggest_resolve?: boolean | null;
  status_label: string;
  status_colour: "red" | "blue" | "green" | string;
  offered_actions?: { assignee: IssueAction[]; others: IssueAction[] };
  unknown_contact?: boolean;
  actions?: IssueAction[];
  /** Closed as "merged": the customer's open issue that goes on. */
  merged_into_issue_id?: string | null;
}

export interface HistoryEntry {
  at: string;
  actor?: StaffRef | null;
  action: string;
  detail?: {
    assignee?: StaffRef | null;
    previous?: StaffRef | null;
    status?: string | null;
    reason?: string | null;
    resolution?: string | null;
  };
}

export interface IssueWithHistory extends IssueSnapshot {
  history?: HistoryEntry[];
}

export interface Attachment {
  url: string;
  content_type?: string;
  filename?: string | null;
  size?: number | null;
}

export interface Delivery {
  status: string;
  reason?: string | null;
  at?: string;
}

export interface CommunicationEntry {
  entry_id: string;
  kind: "customer_message" | "private_comment" | "reply";
  at: string;
  text: string;
  private?: boolean;
  issue_id: string;
  issue_number?: number | null;
  channel?: Channel;
  from_address?: string;
  to_address?: string;
  subject?: string | null;
  attachments?: Attachment[];
  author?: StaffRef | null;
  delivery?: Delivery | null;
}

export interface IssueDetail {
  issue: IssueWithHistory;
  communication: CommunicationEntry[];
  customer_issues?: IssueSnapshot[];
}

/** An `event` frame pushed on the live connection; issue events carry the issue's state after the change. */
export interface IssueFrame {
  kind?: string;
  event_id?: string;
  type: string;
  occurred_at?: string;
  payload?: { issue?: IssueSnapshot; actor?: StaffRef | null; [key: string]: unknown };
  issue?: IssueSnapshot;
}

export interface IssueCounts {
  unassigned?: number;
  mine_open?: number;
  mine?: number;
  [key: string]: number | undefined;
}

export type FeedFilter = "open" | "unassigned" | "assigned" | "mine" | "closed" | "all";
