// Customer issues: the feed card with its status colour and actions, the issue with its history, View Customer.
import { api } from "/static/api.js";
import { el, openLightbox, closeLightbox, when, toast } from "/static/ui.js";

const REPAINT_DELAY_MS = 150;   // several events about the issue on screen (a reply, then its delivery): one load

// The status in the words and colour the contract gives it ("Assigned to Ana" in blue, "Closed by Ben" in green).
function statusBadge(issue) {
  return el("span", { class: `status colour-${issue.status_colour}`, dataset: { status: issue.status } }, issue.status_label);
}

const ACTION_BUTTONS = {
  resolve: ["Resolve", "resolve"],
  assign: ["Assign It", "assign"],
  take: ["Take It", "take"],
  close: ["Mark as Closed", "close"],
  reopen: ["Reopen", "reopen"],
};

// What to offer this staff member for the issue as it is now (a pushed snapshot says who holds it). The issues
// service checks each action again and answers why not; Resolve comes first when the message needs no attention.
// Whether a snapshot of an issue is older than the state already shown (a late answer, a replayed push).
export function olderThan(issue, current) {
  return Boolean(current) && Date.parse(issue.updated_at) < Date.parse(current.updated_at);
}

// The issues service's rule, carried on every snapshot for the assignee and for everyone else.
export function offeredActions(issue, staffId) {
  const offered = issue.offered_actions || { assignee: [], others: [] };
  return issue.assignee?.id === staffId ? offered.assignee : offered.others;
}

function actionButtons(issue, state, actions, { skip = [] } = {}) {
  const offered = offeredActions(issue, state.me.staff_id).filter((a) => a in ACTION_BUTTONS && !skip.includes(a));
  return offered.map((name, index) => el("button", {
    class: name === "resolve" && index === 0 ? "primary" : "", onclick: () => actions[ACTION_BUTTONS[name][1]](issue),
  }, ACTION_BUTTONS[name][0]));
}

export function renderIssueCard(issue, state, actions) {
  const buttons = actionButtons(issue, state, actions);
  buttons.push(el("button", { class: "link", onclick: () => actions.customer(issue) }, "View Customer"));
  return el("article", { class: `issue status-${issue.status} colour-${issue.status_colour}`, dataset: { issueId: issue.issue_id } },
    el("div", { class: "head" },
      el("span", { class: "who" }, issue.customer_name || issue.customer_id),
      statusBadge(issue),
      el("span", { class: "tag channel", title: issue.channel === "email" ? "By email" : "By text message" }, issue.channel === "email" ? "Email" : "SMS"),
      el("span", { class: "when" }, when(issue.updated_at || issue.opened_at))),
    el("div", { class: "text" }, issue.summary || issue.last_message || ""),
    issue.suggest_resolve ? el("div", { class: "hint" }, "Looks like an acknowledgement: no reply needed?") : "",
    el("div", { class: "actions" }, ...buttons));
}

// ---- one issue, with the customer's past communication ----------------------------------------------

let shown = null;   // the issue on screen: {issueId, customerId, view, issue, paint, paintIssue}
let repaintTimer = null;

// A pushed snapshot of the issue on screen repaints its status and actions at once. Its timeline and activity
// come with the full issue (a push carries the issue's state, not its new timeline entry), loaded once for
// several events in a row; so does a change to another issue of the same customer (their past communication).
export function showIssueChange(issue) {
  if (!shown || !shown.view.isConnected) return;
  if (issue.customer_id !== shown.customerId && issue.issue_id !== shown.issueId) return;
  if (issue.issue_id === shown.issueId && !olderThan(issue, shown.issue)) shown.paintIssue({ ...shown.issue, ...issue });
  clearTimeout(repaintTimer);
  const showing = shown;
  repaintTimer = setTimeout(() => load(showing), REPAINT_DELAY_MS);
}

async function load(showing) {
  try {
    const body = await api("GET", `/api/issues/${encodeURIComponent(showing.issueId)}`);
    if (shown === showing && showing.view.isConnected) showing.paint(body);
  } catch { /* the view stays as it was; the next event or action brings it up to date */ }
}

export async function openIssue(issueId, state, actions) {
  let body;
  try {
    body = await api("GET", `/api/issues/${encodeURIComponent(issueId)}`);
  } catch (error) {
    toast({ title: "Issue not found", body: error.message });
    return;
  }
  const error = el("p", { class: "error", role: "alert", id: "issue-error" });
  const title = el("h2", {});
  const about = el("p", { class: "hint" });
  const buttons = el("div", { class: "actions", id: "issue-actions" });
  const history = el("div", { class: "history", id: "issue-history", "aria-label": "Past communication" });
  const assignSelect = el("select", { name: "assignee", "aria-label": "Assign to" },
    ...state.staff.map((s) => el("option", { value: s.staff_id }, s.staff_id === state.me.staff_id ? `${s.display_name} (me)` : s.display_name)));
  const comment = el("textarea", { name: "comment", "aria-label": "Private comment", placeholder: "Private comment: staff only, never sent to the customer", rows: 2 });
  const reply = el("textarea", { name: "reply", "aria-label": "Reply to the customer", rows: 3, maxlength: 1600 });
  const assignSection = el("section", { class: "issue-form" },
    el("h3", {}, "Assign and comment"),
    el("label", { class: "inline" }, "Assign to ", assignSelect), comment,
    el("div", { class: "actions" },
      el("button", { class: "primary", onclick: () => run("assign", { assignee_id: assignSelect.value, comment: comment.value.trim() || undefined }, comment) }, "Assign"),
      el("button", { onclick: () => comment.value.trim() && run("comments", { text: comment.value }, comment) }, "Add private comment")));
  const replyHint = el("p", { class: "hint" });
  const replySection = el("section", { class: "issue-form" },
    el("h3", {}, "Reply to the customer"), replyHint, reply,
    el("div", { class: "actions" },
      el("button", { class: "primary", onclick: () => reply.value.trim() && run("replies", { text: reply.value }, reply) }, "Send reply")));
  const activity = el("ol", { class: "activity", id: "issue-activity" });
  const view = el("div", { class: "issue-view", id: "issue-view", dataset: { issueId } },
    title, about, buttons, error, el("h3", {}, "Past communication"), history, assignSection, replySection,
    el("details", {}, el("summary", {}, "Activity on this issue"), activity));

  async function run(action, payload, box) {
    error.textContent = "";
    try {
      const answer = await api("POST", `/api/issues/${encodeURIComponent(issueId)}/${action}`, payload);
      if (box) box.value = "";
      if (answer?.issue) actions.changed(answer.issue);
      await load(showing);
    } catch (e) { error.textContent = e.message; }
  }
  // Take, close, resolve and reopen from here stay in this view, which shows the outcome.
  const here = {
    ...actions,
    take: () => run("take"), close: () => run("close"), resolve: () => run("resolve"), reopen: () => run("reopen"),
  };
  let assigneeShown;   // the select follows the assignee when it changes, not while someone is picking

  // The issue's state: status, actions and what may be written; from the full issue or a pushed snapshot.
  function paintIssue(issue) {
    showing.issue = issue;
    title.replaceChildren(`${issue.customer_name || issue.customer_id} `, statusBadge(issue));
    about.textContent = [issue.number ? `Issue #${issue.number}` : "", issue.channel === "email" ? "by email" : "by text message",
      `opened ${when(issue.opened_at)}`].filter(Boolean).join(" · ");
    buttons.replaceChildren(...actionButtons(issue, state, here, { skip: ["assign"] }),
      el("button", { class: "link", onclick: () => openCustomer(issue.customer_id, { back: () => openIssue(issueId, state, actions) }) }, "View Customer"));
    const assignee = issue.assignee?.id || state.me.staff_id;
    if (assignee !== assigneeShown) assignSelect.value = assigneeShown = assignee;
    const may = new Set(offeredActions(issue, state.me.staff_id));
    assignSection.hidden = !may.has("assign") && !may.has("comment");
    assignSelect.closest("label").hidden = !may.has("assign");
    assignSection.querySelector("button.primary").hidden = !may.has("assign");
    replySection.hidden = !may.has("reply");
  }

  function paint({ issue, communication = [] }) {
    paintIssue(issue);
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 40;
    history.replaceChildren(...(communication.length ? communication.map((entry) => renderEntry(entry, issue))
      : [el("p", { class: "empty" }, "Nothing yet.")]));
    if (atBottom) history.scrollTop = history.scrollHeight;
    activity.replaceChildren(...(issue.history || []).map((item) =>
      el("li", { dataset: { action: item.action } }, `${when(item.at)} · ${activityText(item)}`)));
    const to = [...communication].reverse().find((e) => e.kind === "customer_message" && e.issue_id === issue.issue_id);
    replyHint.textContent = `Goes to ${to?.from_address || "the customer"} by ${issue.channel === "email" ? "email" : "text message"}.`;
  }

  const showing = { issueId, customerId: body.issue.customer_id, view, issue: body.issue, paint, paintIssue };
  shown = showing;
  paint(body);
  openLightbox(view);
  history.scrollTop = history.scrollHeight;
}

// Who did what to the issue, from its history (the issues service records every change).
function activityText({ action, actor, detail = {} }) {
  const who = actor?.name || "Someone";
  switch (action) {
    case "opened": return "The customer's message opened the issue";
    case "message_appended": return "The customer wrote again";
    case "assigned": return `${who} assigned it to ${detail.assignee?.name || "a colleague"}`;
    case "taken": return `${who} took it`;
    case "closed": return `${who} closed it`;
    case "resolved": return `${who} resolved it: no action needed`;
    case "reopened": return `${who} reopened it`;
    case "comment_added": return `${who} added a private comment`;
    case "replied": return `${who} replied to the customer`;
    case "reply_status_changed": return `The reply was ${detail.status}${detail.reason ? ` (${detail.reason})` : ""}`;
    default: return `${who}: ${action.replaceAll("_", " ")}`;
  }
}

const ENTRY_CLASS = { customer_message: "inbound", private_comment: "private", reply: "outbound" };
const DELIVERY_TROUBLE = new Set(["failed", "refused", "undelivered", "bounced"]);

function renderEntry(entry, issue) {
  const who = entry.kind === "customer_message" ? "Customer" : entry.author?.name || "";
  const delivery = entry.delivery;
  const earlier = entry.issue_id !== issue.issue_id;
  return el("div", { class: `entry ${ENTRY_CLASS[entry.kind] || ""}${earlier ? " earlier" : ""}`, dataset: { kind: entry.kind, entryId: entry.entry_id } },
    el("div", { class: "meta" },
      `${who} · ${when(entry.at)}`,
      entry.kind === "reply" ? ` · reply by ${entry.channel === "email" ? "email" : "SMS"}` : "",
      entry.issue_number ? ` · #${entry.issue_number}` : "",
      entry.private ? el("span", { class: "tag private", title: "Staff only: never sent to the customer" }, "Private") : ""),
    entry.subject ? el("div", { class: "meta" }, entry.subject) : "",
    el("div", { class: "text" }, entry.text || ""),
    (entry.attachments || []).length ? el("div", { class: "attachments" }, ...entry.attachments.map((a) =>
      el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, a.filename || a.name || "attachment"))) : "",
    delivery ? el("div", { class: `delivery ${DELIVERY_TROUBLE.has(delivery.status) ? "trouble" : ""}`.trim(), dataset: { status: delivery.status } },
      `Delivery: ${delivery.status}${delivery.reason ? ` (${delivery.reason})` : ""}`) : "");
}

// ---- View Customer -----------------------------------------------------------------------------------

export async function openCustomer(customerId, { back } = {}) {
  try {
    const customer = await api("GET", `/api/customers/${encodeURIComponent(customerId)}`);
    const account = customer.account || {};
    openLightbox(el("div", { class: "customer", id: "customer-view", role: "region", "aria-label": "Customer account" },
      el("h2", {}, customer.name || "Unknown contact"),
      customer.unknown_contact ? el("p", { class: "error" }, "Unknown contact: not yet matched to an account.") : "",
      el("dl", { class: "account" },
        el("dt", {}, "Phone"), el("dd", {}, (customer.phones || []).join(", ") || "—"),
        el("dt", {}, "Email"), el("dd", {}, (customer.emails || []).join(", ") || "—"),
        customer.opted_out_sms ? [el("dt", {}, "SMS"), el("dd", {}, "opted out (STOP)")] : [],
        ...Object.entries(account).flatMap(([k, v]) => [el("dt", {}, k.replaceAll("_", " ")), el("dd", {}, String(v))])),
      el("div", { class: "actions" },
        back ? el("button", { onclick: back }, "Back to the issue") : "",
        el("button", { onclick: closeLightbox }, "Close"))));
  } catch (error) {
    toast({ title: "Customer not found", body: error.message });
  }
}
