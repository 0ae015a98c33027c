// Small DOM helpers: elements, toasts, the lightbox, times.
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

export function toast({ title, where, body, onclick }) {
  const box = el("div", { class: "toast", role: "status", onclick: () => { box.remove(); onclick?.(); } },
    where ? el("div", { class: "where" }, where) : "", el("strong", {}, title || ""), body ? el("div", {}, body) : "");
  document.getElementById("toasts").prepend(box);
  setTimeout(() => box.remove(), 8000);
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
