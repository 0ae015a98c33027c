// The module's places, in the address's hash (so a reload, the back button and a shared link keep them):
// #feed (Customer Messages), #tracker (Issue Tracker), #c/<conversation id>, #audit (admins).
import { readonly, ref } from "vue";

export type Route =
  | { name: "feed" }
  | { name: "tracker" }
  | { name: "conversation"; id: string }
  | { name: "audit" }
  | { name: "none" };

export function parseHash(hash: string): Route {
  if (hash.startsWith("#c/") && hash.length > 3) {
    let id = hash.slice(3);
    try {
      id = decodeURIComponent(id);
    } catch { /* kept as written */ }
    return { name: "conversation", id };
  }
  if (hash === "#feed") return { name: "feed" };
  if (hash === "#tracker") return { name: "tracker" };
  if (hash === "#audit") return { name: "audit" };
  return { name: "none" };
}

export function hashOf(route: Route): string {
  switch (route.name) {
    case "conversation": return `#c/${encodeURIComponent(route.id)}`;
    case "none": return "";
    default: return `#${route.name}`;
  }
}

const current = ref<Route>(parseHash(typeof location !== "undefined" ? location.hash : ""));
/** Bumped on every hash change, also to the same place (a toast for the conversation already open). */
const visits = ref(0);

if (typeof window !== "undefined") {
  window.addEventListener("hashchange", () => {
    current.value = parseHash(location.hash);
    visits.value += 1;
  });
}

export const route = readonly(current);
export const routeVisits = readonly(visits);

/** Go to a place; the same place again opens it again. */
export function navigate(hash: string): void {
  if (location.hash === hash) {
    current.value = parseHash(hash);
    visits.value += 1;
  } else {
    location.hash = hash;
  }
}

/** Put a place in the address without a history entry (where the module reopens). */
export function replaceRoute(hash: string): void {
  history.replaceState(null, "", hash || location.pathname + location.search);
  current.value = parseHash(hash);
  visits.value += 1;
}
