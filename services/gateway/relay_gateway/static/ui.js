// Elements, toasts, the lightbox and times for the other modules.
const TOAST_SHOWN_MS = 10000;
const TOASTS_KEPT = 5;

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== "") node.append(child);
  return node;
}

// A toast in the top-right corner: where it happened, who or what, a line of text; a click opens it.
export function toast({ title, where, body, onclick, mention = false, dataset = {} }) {
  const box = el("div", { class: `toast${mention ? " mention" : ""}`, role: "status", dataset, onclick: () => { box.remove(); onclick?.(); } },
    el("button", { class: "link dismiss", "aria-label": "Dismiss", onclick: (e) => { e.stopPropagation(); box.remove(); } }, "✕"),
    where ? el("div", { class: "where" }, where) : "", el("strong", { class: "title" }, title || ""), body ? el("div", { class: "body" }, body) : "");
  const shelf = document.getElementById("toasts");
  shelf.prepend(box);
  while (shelf.children.length > TOASTS_KEPT) shelf.lastElementChild.remove();
  setTimeout(() => box.remove(), TOAST_SHOWN_MS);
}

export function openLightbox(...children) {
  const box = document.getElementById("lightbox");
  box.querySelector(".lightbox-body").replaceChildren(
    el("button", { class: "link close", onclick: closeLightbox, style: "float:right", "aria-label": "Close" }, "✕"), ...children);
  box.hidden = false;
}

export function closeLightbox() { document.getElementById("lightbox").hidden = true; }

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : date.toLocaleString();
}
