// Search: chat messages the user may see, the business's customer issues and its customers, asked of the three
// services at once; each answers only what the staff member may see (tenant and membership on the server).
import { api } from "@/api";
import type { Customer } from "@/issues/customers";
import type { IssueSnapshot } from "@/issues/types";

export interface MessageHit {
  conversation_id: string;
  conversation_name: string;
  conversation_kind?: string;
  seq: number;
  message_id: string;
  author?: { id: string; display_name: string };
  text: string;
  posted_at: string;
}

export type SearchHit =
  | { kind: "message"; key: string; message: MessageHit }
  | { kind: "issue"; key: string; issue: IssueSnapshot }
  | { kind: "customer"; key: string; customer: Customer };

export interface SearchGroup {
  kind: SearchHit["kind"];
  title: string;
  hits: SearchHit[];
  error: string;
}

export const SEARCH_LIMIT = 8;
export const QUERY_MOST = 100;

async function listed<T>(path: string, key: string): Promise<T[]> {
  const answer = await api<Record<string, unknown>>("GET", path);
  const list = answer?.[key];
  return Array.isArray(list) ? (list as T[]) : [];
}

/** Every group's hits for a query (a group whose service failed says so and leaves the others be). */
export async function searchEverything(query: string): Promise<SearchGroup[]> {
  const q = encodeURIComponent(query.trim().slice(0, QUERY_MOST));
  const [messages, issues, customers] = await Promise.allSettled([
    listed<MessageHit>(`/api/chat/search?q=${q}&limit=${SEARCH_LIMIT}`, "results"),
    listed<IssueSnapshot>(`/api/issues/search?q=${q}&limit=${SEARCH_LIMIT}`, "results"),
    listed<Customer>(`/api/customers?q=${q}`, "customers"),
  ]);
  const failed = (result: PromiseSettledResult<unknown>): string =>
    result.status === "rejected" ? (result.reason as Error)?.message || "Search failed." : "";
  const value = <T>(result: PromiseSettledResult<T[]>): T[] => (result.status === "fulfilled" ? result.value : []);
  return [
    { kind: "message", title: "Messages", error: failed(messages),
      hits: value(messages).map((message) => ({ kind: "message", key: `m:${message.message_id}`, message })) },
    { kind: "issue", title: "Customer issues", error: failed(issues),
      hits: value(issues).map((issue) => ({ kind: "issue", key: `i:${issue.issue_id}`, issue })) },
    { kind: "customer", title: "Customers", error: failed(customers),
      hits: value(customers).slice(0, SEARCH_LIMIT).map((customer) => ({ kind: "customer", key: `c:${customer.customer_id}`, customer })) },
  ];
}
