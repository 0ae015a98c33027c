import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { accountParts } from "@/issues/customers";
import ReplyTemplates from "@/issues/ReplyTemplates.vue";
import { useSessionStore } from "@/stores/session";

let calls: string[] = [];
function serve(): void {
  calls = [];
  vi.stubGlobal("fetch", vi.fn(async (path: string, init?: RequestInit) => {
    calls.push(`${init?.method ?? "GET"} ${path}${init?.body ? ` ${init.body}` : ""}`);
    if (init?.method === "PUT") return new Response(JSON.stringify({}), { status: 200 });
    if (init?.method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify({ templates: [{ template_id: "ready", name: "Ready for pickup",
      body: "Hi {first_name}, your order {ticket} is ready." }] }), { status: 200 });
  }));
}

function signedInAs(role: string): void {
  useSessionStore().me = { staff_id: "stf_1", display_name: "Alice Martin", username: "alice", role, tenant_id: "demo" };
}

beforeEach(() => {
  setActivePinia(createPinia());
  serve();
});
afterEach(() => vi.unstubAllGlobals());

describe("quick replies in Settings", () => {
  it("lets a manager add, change and delete a template", async () => {
    signedInAs("manager");
    const view = mount(ReplyTemplates);
    await flushPromises();
    expect(view.text()).toContain("Ready for pickup");
    await view.findAll("button").find((b) => b.text() === "New quick reply")!.trigger("click");
    await view.get('input[name="template-name"]').setValue("Running late");
    await view.get('textarea[name="template-body"]').setValue("Sorry {first_name}, one more day.");
    await view.get("form").trigger("submit");
    await flushPromises();
    const saved = calls.find((c) => c.startsWith("PUT"))!;
    expect(saved).toMatch(/^PUT \/api\/reply-templates\/running-late-[a-z0-9]+ /);
    expect(JSON.parse(saved.slice(saved.indexOf("{")))).toEqual({ name: "Running late", body: "Sorry {first_name}, one more day." });

    await view.get('button[aria-label="Delete Ready for pickup"]').trigger("click");
    expect(calls.some((c) => c.startsWith("DELETE"))).toBe(false);   // not before the manager confirms
    await view.findAll("button").find((b) => b.text() === "Delete “Ready for pickup”")!.trigger("click");
    await flushPromises();
    expect(calls).toContain("DELETE /api/reply-templates/ready");
  });

  it("shows other staff the templates without the means to change them", async () => {
    signedInAs("staff");
    const view = mount(ReplyTemplates);
    await flushPromises();
    expect(view.text()).toContain("Ready for pickup");
    expect(view.findAll("button").map((b) => b.text())).toEqual([]);
  });
});

describe("View Customer's account", () => {
  it("shows orders as a table and leaves out an empty list", () => {
    const parts = accountParts({ balance: "$12.50", orders: [{ ticket: "A-1042", status: "ready" }], notes: [] });
    expect(parts.fields).toEqual([["balance", "$12.50"]]);
    expect(parts.tables).toEqual([{ key: "orders", columns: ["ticket", "status"], rows: [{ ticket: "A-1042", status: "ready" }] }]);
  });
});
