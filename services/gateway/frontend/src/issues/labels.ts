// How an issue and its customer are named on screen: never by an internal id.
import type { IssueSnapshot } from "./types";

export const UNKNOWN_CUSTOMER = "Unknown customer";

/** The customer's name, else their number in national format or email (the server's label), never an id. */
export function customerLabel(issue: Pick<IssueSnapshot, "customer_label" | "customer_name"> | null | undefined): string {
  return issue?.customer_label || issue?.customer_name || UNKNOWN_CUSTOMER;
}

/** A day, as the opt-out notice names it. */
export function day(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}
