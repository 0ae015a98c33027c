// Quick replies: the tenant's reply templates, filled from one customer's account data by the ingest service.
import { api } from "@/api";

export interface QuickReply {
  template_id: string;
  name: string;
  body?: string;
  text: string;
  missing: string[];
}

export interface ReplyTemplate {
  template_id: string;
  name: string;
  body: string;
  updated_at?: string;
}

/** The first list in an answer, whatever its key (`quick_replies`, `templates`, or the answer itself). */
function listIn<T>(answer: unknown): T[] {
  if (Array.isArray(answer)) return answer as T[];
  if (answer && typeof answer === "object") {
    for (const value of Object.values(answer)) if (Array.isArray(value)) return value as T[];
  }
  return [];
}

export async function quickRepliesFor(customerId: string): Promise<QuickReply[]> {
  const answer = await api("GET", `/api/customers/${encodeURIComponent(customerId)}/quick-replies`);
  return listIn<QuickReply>(answer).map((reply) => ({ ...reply, missing: reply.missing ?? [] }));
}

export async function replyTemplates(): Promise<ReplyTemplate[]> {
  return listIn<ReplyTemplate>(await api("GET", "/api/reply-templates"));
}

export async function saveReplyTemplate(template: ReplyTemplate): Promise<void> {
  await api("PUT", `/api/reply-templates/${encodeURIComponent(template.template_id)}`,
    { name: template.name, body: template.body });
}

export async function deleteReplyTemplate(templateId: string): Promise<void> {
  await api("DELETE", `/api/reply-templates/${encodeURIComponent(templateId)}`);
}

/** The quick replies whose name (or text) starts a word with what was typed after "/". */
export function matching(replies: QuickReply[], typed: string): QuickReply[] {
  const wanted = typed.trim().toLowerCase();
  if (!wanted) return replies;
  return replies.filter((reply) => `${reply.name} ${reply.text}`.toLowerCase().split(/\s+/)
    .some((word) => word.startsWith(wanted)) || reply.name.toLowerCase().includes(wanted));
}

/** A new template's id: its name in lower case with dashes, and a few random letters so two never meet. */
export function newTemplateId(name: string): string {
  const slug = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  return `${slug || "template"}-${Math.random().toString(36).slice(2, 8)}`;
}
