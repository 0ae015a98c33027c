// Channel settings: rename, topic, archive or unarchive, and the member list with add and remove.
// Each control shows only to whom chat allows it; if chat refuses anyway (a role changed meanwhile), its reason shows.
import { api } from "/static/api.js";
import { el, openLightbox } from "/static/ui.js";

const MANAGERS = new Set(["manager", "admin"]);

export function managesMembers(state) { return MANAGERS.has(state.me?.role); }

// Rename and (un)archive: managers, admins and the channel's creator.
export function managesChannel(state, conversation) {
  return managesMembers(state) || conversation.created_by === state.me?.staff_id;
}

// hooks: changed(conversation) after anything changed; dot(staffId) a presence dot.
export async function openChannelSettings(state, conversation, hooks) {
  const id = conversation.conversation_id;
  const channelPath = `/api/chat/channels/${encodeURIComponent(id)}`;
  const error = el("p", { class: "error", role: "alert", id: "settings-error" });
  const panel = el("div", { class: "dialog channel-settings", id: "channel-settings", role: "region", "aria-label": "Channel settings" });
  let current = conversation;
  let members = [];

  async function load() {
    const [detail, list] = await Promise.all([
      api("GET", `/api/chat/conversations/${encodeURIComponent(id)}`),
      api("GET", `/api/chat/conversations/${encodeURIComponent(id)}/members`),
    ]);
    current = detail;
    members = list.members || [];
  }

  async function attempt(work) {
    error.textContent = "";
    let failure = "";
    try { await work(); } catch (e) { failure = e.message; }
    try { await load(); hooks.changed(current); } catch (e) { failure ||= e.message; }
    if (panel.isConnected) paint();
    error.textContent = failure;
  }

  function paint() {
    const mayManage = managesChannel(state, current);
    const mayMembers = managesMembers(state);
    const mayTopic = (current.is_member || mayMembers) && !current.archived;
    const isDefault = Boolean(current.default);

    const name = el("input", { name: "name", "aria-label": "Channel name", maxlength: 80, autocomplete: "off",
      value: current.name, readonly: !(mayManage && !current.archived) });
    const renameForm = el("form", { class: "row" }, el("label", {}, "Name ", name),
      mayManage && !current.archived ? el("button", { type: "submit" }, "Rename") : "");
    renameForm.addEventListener("submit", (e) => {
      e.preventDefault();
      if (name.value.trim() && name.value.trim() !== current.name) attempt(() => api("PATCH", channelPath, { name: name.value.trim() }));
    });

    const topic = el("input", { name: "topic", "aria-label": "Topic", maxlength: 250, autocomplete: "off",
      value: current.topic || "", placeholder: mayTopic ? "What this channel is for" : "", readonly: !mayTopic });
    const topicForm = el("form", { class: "row" }, el("label", {}, "Topic ", topic),
      mayTopic ? el("button", { type: "submit" }, "Save topic") : "");
    topicForm.addEventListener("submit", (e) => {
      e.preventDefault();
      attempt(() => api("PATCH", channelPath, { topic: topic.value.trim() }));
    });

    const archive = mayManage && !isDefault ? el("button", {
      class: current.archived ? "primary" : "danger",
      onclick: () => attempt(() => api("PATCH", channelPath, { archived: !current.archived })),
    }, current.archived ? "Unarchive channel" : "Archive channel") : "";

    const others = state.staff.filter((s) => !members.some((m) => m.staff_id === s.staff_id));
    const pick = el("select", { name: "staff", "aria-label": "Colleague to add" },
      ...others.map((s) => el("option", { value: s.staff_id }, s.display_name)));
    const addForm = mayMembers && !current.archived && others.length
      ? el("form", { class: "row", "aria-label": "Add member" }, pick, el("button", { type: "submit" }, "Add")) : "";
    if (addForm) addForm.addEventListener("submit", (e) => {
      e.preventDefault();
      attempt(() => api("POST", `${channelPath}/members`, { staff_ids: [pick.value] }));
    });

    panel.replaceChildren(
      el("h2", {}, `# ${current.name}`, current.archived ? el("span", { class: "tag archived" }, "Archived") : ""),
      current.archived ? el("p", { class: "hint" }, "Archived: read only. Unarchive it to post, rename or set the topic.") : "",
      renameForm, topicForm, archive ? el("div", { class: "row" }, archive) : "",
      el("h3", {}, `Members (${members.length})`),
      el("ul", { class: "member-list", id: "channel-members" }, ...members.map((m) => el("li", { dataset: { staffId: m.staff_id } },
        hooks.dot(m.staff_id), el("span", { class: "name" }, m.display_name || m.username || m.staff_id),
        m.staff_id === state.me.staff_id ? el("span", { class: "hint" }, "(you)") : "",
        MANAGERS.has(m.role) ? el("span", { class: "tag" }, m.role) : "",
        mayMembers && !isDefault ? el("button", { class: "link danger", "aria-label": `Remove ${m.display_name || m.staff_id}`,
          onclick: () => attempt(() => api("DELETE", `${channelPath}/members/${encodeURIComponent(m.staff_id)}`)) }, "Remove") : ""))),
      addForm,
      !mayMembers ? el("p", { class: "hint" }, "Managers and admins add and remove members.") : "",
      error);
  }

  try { await load(); } catch (e) { error.textContent = e.message; }
  paint();
  openLightbox(panel);
}
