// The audit log, for a business's admins: who did what, when — newest first, a page at a time.
import { api } from "/static/api.js";
import { el } from "/static/ui.js";

const PAGE = 50;

const ACTIONS = {
  "tenant.created": "created the business",
  "tenant.settings_changed": "changed the business's settings",
  "staff.created": "created a staff account",
  "staff.changed": "changed a staff account's name",
  "staff.role_changed": "changed a role",
  "staff.deactivated": "deactivated an account",
  "staff.reactivated": "reactivated an account",
  "staff.password_reset": "reset a password",
  "staff.sessions_ended": "signed an account out everywhere",
  "staff.totp_set": "set up two-factor sign-in",
  "staff.totp_removed": "removed two-factor sign-in",
  "chat.channel_archived": "archived a channel",
  "chat.message_deleted": "deleted someone else's message",
};

export function isAdmin(me) { return me?.role === "admin"; }

function describe(detail) {
  return Object.entries(detail || {}).map(([key, value]) => {
    const shown = value && typeof value === "object" && !Array.isArray(value) && "from" in value
      ? `${value.from} → ${value.to}` : Array.isArray(value) ? value.join(", ") : String(value);
    return `${key.replaceAll("_", " ")}: ${shown}`;
  }).join("; ");
}

function row(entry) {
  const at = new Date(entry.at);
  return el("tr", { dataset: { entryId: entry.entry_id, action: entry.action } },
    el("td", {}, el("time", { datetime: entry.at }, at.toLocaleString())),
    el("td", {}, entry.actor.name),
    el("td", {}, ACTIONS[entry.action] || entry.action),
    el("td", {}, `${entry.target.kind} ${entry.target.name}`),
    el("td", { class: "detail" }, describe(entry.detail)));
}

// Renders the log into `main`; "Older entries" loads the next page and moves the focus to its first row.
export async function openAuditLog(main) {
  const body = el("tbody");
  const status = el("p", { class: "hint", role: "status" });
  const older = el("button", { type: "button", hidden: true }, "Older entries");
  const heading = el("h2", { tabindex: "-1" }, "Audit log");
  let before = null;

  async function load() {
    older.disabled = true;
    try {
      const query = new URLSearchParams({ limit: String(PAGE), ...(before ? { before } : {}) });
      const page = await api("GET", `/api/audit?${query}`);
      const rows = page.entries.map(row);
      body.append(...rows);
      before = page.next_before;
      older.hidden = !before;
      status.textContent = body.children.length ? `${body.children.length} entries shown` : "Nothing recorded yet.";
      return rows;
    } catch (error) {
      status.textContent = error.message;
      return [];
    } finally {
      older.disabled = false;
    }
  }

  older.addEventListener("click", async () => {
    const rows = await load();
    if (rows.length) { rows[0].tabIndex = -1; rows[0].focus(); }
    else if (older.hidden) heading.focus();
  });
  main.replaceChildren(el("section", { class: "audit-log", "aria-labelledby": "audit-heading" },
    Object.assign(heading, { id: "audit-heading" }),
    el("p", { class: "hint" }, "Admin and manager actions on this business, newest first."),
    el("table", { class: "audit" },
      el("caption", { class: "visually-hidden" }, "Who did what, when"),
      el("thead", {}, el("tr", {}, ...["When", "Who", "What", "On", "Detail"].map((t) => el("th", { scope: "col" }, t)))),
      body),
    status, older));
  await load();
  heading.focus();
}
