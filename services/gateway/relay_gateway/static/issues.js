// Customer issues in the feed: status colours, the three actions, the issue with its history, View Customer.
import { api } from "/static/api.js";
import { el, openLightbox, closeLightbox, when, toast } from "/static/ui.js";

const STATUS_LABEL = { unassigned: "Unassigned", assigned: "Assigned", closed: "Closed" };

export function statusText(issue) {
  if (issue.status === "assigned") return `Assigned to ${issue.assignee?.name || ""}`;
  if (issue.status === "closed") return `Closed by ${issue.closed_by?.name || ""}${issue.resolution ? ` — ${issue.resolution}` : ""}`;
  return STATUS_LABEL[issue.status] || issue.status;
}

const ACTION_BUTTONS = {
  resolve: ["Resolve", "resolve"],
  assign: ["Assign It", "assign"],
  take: ["Take It", "take"],
  close: ["Mark as Closed", "close"],
  reopen: ["Reopen", "reopen"],
};

export function renderIssueCard(issue, state, actions) {
  // The issues service says what this staff member may do now, Resolve first when the message needs no attention.
  const offered = (issue.actions || []).filter((a) => a in ACTION_BUTTONS);
  const buttons = offered.map((name, index) => el("button", {
    class: name === "resolve" && index === 0 ? "primary" : "", onclick: () => actions[ACTION_BUTTONS[name][1]](issue),
  }, ACTION_BUTTONS[name][0]));
  buttons.push(el("button", { class: "link", onclick: () => actions.customer(issue) }, "View Customer"));
  return el("article", { class: `issue status-${issue.status}`, dataset: { issueId: issue.issue_id } },
    el("div", { class: "head" },
      el("span", { class: "who" }, issue.customer_name || issue.customer_id),
      el("span", { class: `status ${issue.status}` }, statusText(issue)),
      el("span", { class: "channel" }, issue.channel === "email" ? "✉" : "💬"),
      el("span", { class: "when" }, when(issue.updated_at || issue.opened_at))),
    el("div", { class: "text" }, issue.summary || issue.last_message || ""),
    el("div", { class: "actions" }, ...buttons));
}

export async function openIssue(issueId, state, actions) {
  const body = await api("GET", `/api/issues/${issueId}`);
  const issue = body.issue;
  const history = body.communication || [];
  const assignSelect = el("select", { name: "assignee", "aria-label": "Assign to" },
    ...state.staff.map((s) => el("option", { value: s.staff_id, selected: issue.assignee?.id === s.staff_id }, s.display_name)));
  const comment = el("textarea", { name: "comment", placeholder: "Private comment (staff only)", rows: 2, style: "width:100%" });
  const reply = el("textarea", { name: "reply", placeholder: `Reply to the customer by ${issue.channel === "email" ? "email" : "SMS"}`, rows: 3, style: "width:100%" });
  const run = async (path, payload) => {
    try { await api("POST", path, payload); await openIssue(issueId, state, actions); actions.refresh(); }
    catch (error) { toast({ title: "Not done", body: error.message }); }
  };
  openLightbox(
    el("h2", {}, `${issue.customer_name || issue.customer_id} `, el("span", { class: `status ${issue.status}` }, statusText(issue))),
    el("button", { class: "link", onclick: () => openCustomer(issue.customer_id) }, "View Customer"),
    el("div", { class: "history", id: "issue-history" }, ...history.map(renderEntry)),
    el("div", { class: "actions" }, assignSelect,
      el("button", { class: "primary", onclick: () => run(`/api/issues/${issueId}/assign`, { assignee_id: assignSelect.value, comment: comment.value || undefined }) }, "Assign")),
    el("h3", {}, "Private comment"), comment,
    el("button", { onclick: () => comment.value.trim() && run(`/api/issues/${issueId}/comments`, { text: comment.value }) }, "Add comment"),
    el("h3", {}, "Reply to customer"), reply,
    el("button", { class: "primary", onclick: () => reply.value.trim() && run(`/api/issues/${issueId}/replies`, { text: reply.value }) }, "Send reply"),
  );
}

const ENTRY_CLASS = { customer_message: "inbound", private_comment: "private", reply: "outbound" };

function renderEntry(entry) {
  const who = entry.kind === "customer_message" ? "Customer" : entry.author?.name || "";
  const delivery = entry.delivery;
  return el("div", { class: `entry ${ENTRY_CLASS[entry.kind] || ""}`, dataset: { kind: entry.kind } },
    el("div", { class: "meta" }, `${who} · ${when(entry.at)}${entry.private ? " · private" : ""}${entry.issue_number ? ` · #${entry.issue_number}` : ""}`),
    entry.subject ? el("div", { class: "meta" }, entry.subject) : "",
    el("div", {}, entry.text || ""),
    delivery ? el("div", { class: "delivery" }, `Delivery: ${delivery.status}${delivery.reason ? ` (${delivery.reason})` : ""}`) : "");
}

export async function openCustomer(customerId) {
  try {
    const customer = await api("GET", `/api/customers/${customerId}`);
    const account = customer.account || customer.account_summary || {};
    openLightbox(
      el("h2", {}, customer.name || "Unknown contact"),
      customer.unknown_contact ? el("p", { class: "error" }, "Unknown contact: not yet matched to an account.") : "",
      el("dl", { class: "account" },
        el("dt", {}, "Phone"), el("dd", {}, (customer.phones || []).join(", ") || "—"),
        el("dt", {}, "Email"), el("dd", {}, (customer.emails || []).join(", ") || "—"),
        customer.opted_out_sms ? [el("dt", {}, "SMS"), el("dd", {}, "opted out (STOP)")] : [],
        ...Object.entries(account).flatMap(([k, v]) => [el("dt", {}, k.replaceAll("_", " ")), el("dd", {}, String(v))])),
      el("button", { onclick: closeLightbox }, "Close"));
  } catch (error) {
    toast({ title: "Customer not found", body: error.message });
  }
}
