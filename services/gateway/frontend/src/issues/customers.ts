// The customer directory as the ingest service answers it: View Customer, naming and linking an unknown contact.
import { api } from "@/api";

export interface Customer {
  customer_id: string;
  name?: string | null;
  label?: string | null;
  phones?: string[];
  emails?: string[];
  account?: Record<string, unknown>;
  unknown_contact?: boolean;
  merged_into?: string | null;
  opted_out_sms?: boolean;
  sms_opted_out_at?: string | null;
}

/** How a customer is named: their name, else the directory's label (national-format phone or email). */
export function customerName(customer: Customer): string {
  return customer.name || customer.label || customer.phones?.[0] || customer.emails?.[0] || "Unknown customer";
}

export function getCustomer(customerId: string): Promise<Customer> {
  return api<Customer>("GET", `/api/customers/${encodeURIComponent(customerId)}`);
}

export async function findCustomers(query: string): Promise<Customer[]> {
  const answer = await api<{ customers?: Customer[] }>("GET", `/api/customers?q=${encodeURIComponent(query)}`);
  return answer.customers ?? [];
}

export function nameCustomer(customerId: string, name: string): Promise<Customer> {
  return api<Customer>("PATCH", `/api/customers/${encodeURIComponent(customerId)}`, { name });
}

export function linkCustomer(customerId: string, intoCustomerId: string): Promise<unknown> {
  return api("POST", `/api/customers/${encodeURIComponent(customerId)}/link`, { into_customer_id: intoCustomerId });
}

/** An account field's name as View Customer shows it: "loyalty_tier" → "loyalty tier". */
export function fieldName(key: string): string {
  return key.replaceAll("_", " ");
}

/** An account value as text (a nested record as "key: value" pairs). */
export function fieldValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(fieldValue).join(", ");
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => `${fieldName(k)}: ${fieldValue(v)}`).join(", ");
  }
  return String(value);
}

/** Lists of records in the account (orders) shown as tables; everything else as name and value. */
export function accountParts(account: Record<string, unknown> = {}): {
  fields: [string, string][];
  tables: { key: string; columns: string[]; rows: Record<string, unknown>[] }[];
} {
  const fields: [string, string][] = [];
  const tables: { key: string; columns: string[]; rows: Record<string, unknown>[] }[] = [];
  for (const [key, value] of Object.entries(account)) {
    if (Array.isArray(value) && value.length === 0) continue;   // no orders: nothing to show
    if (Array.isArray(value) && value.length && value.every((row) => row && typeof row === "object" && !Array.isArray(row))) {
      const rows = value as Record<string, unknown>[];
      const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      tables.push({ key, columns, rows });
    } else {
      fields.push([key, fieldValue(value)]);
    }
  }
  return { fields, tables };
}
