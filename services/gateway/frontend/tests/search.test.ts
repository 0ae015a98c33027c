import { afterEach, describe, expect, it, vi } from "vitest";
import { matching, newTemplateId, type QuickReply } from "@/issues/quickReplies";
import { searchEverything } from "@/search/search";

afterEach(() => vi.unstubAllGlobals());

describe("search", () => {
  it("asks the three services at once and groups what they found; a failing one leaves the others be", async () => {
    const asked: string[] = [];
    vi.stubGlobal("fetch", vi.fn(async (path: string) => {
      asked.push(path);
      if (path.startsWith("/api/chat/search")) {
        return new Response(JSON.stringify({ results: [{ conversation_id: "c1", conversation_name: "front-counter",
          seq: 7, message_id: "m1", text: "rack 4", posted_at: "2026-12-02T10:00:00Z" }] }), { status: 200 });
      }
      if (path.startsWith("/api/issues/search")) {
        return new Response(JSON.stringify({ error: { message: "The issues service is away." } }), { status: 503 });
      }
      return new Response(JSON.stringify({ customers: [{ customer_id: "cus_jane", name: "Jane Doe" }] }), { status: 200 });
    }));
    const groups = await searchEverything("  rack 4 ");
    expect(asked.sort()).toEqual(["/api/chat/search?q=rack%204&limit=8", "/api/customers?q=rack%204",
      "/api/issues/search?q=rack%204&limit=8"]);
    expect(groups.map((g) => [g.title, g.hits.length, g.error])).toEqual([
      ["Messages", 1, ""], ["Customer issues", 0, "The issues service is away."], ["Customers", 1, ""]]);
  });
});

describe("quick replies", () => {
  const replies: QuickReply[] = [
    { template_id: "ready", name: "Ready for pickup", text: "Hi Jane, your order A-1042 is ready", missing: [] },
    { template_id: "late", name: "Running late", text: "Hi Jane, sorry: one more day", missing: ["due_date"] },
  ];

  it("are filtered by what follows the slash, by the start of a word", () => {
    expect(matching(replies, "").map((r) => r.template_id)).toEqual(["ready", "late"]);
    expect(matching(replies, "runn").map((r) => r.template_id)).toEqual(["late"]);
    expect(matching(replies, "pick").map((r) => r.template_id)).toEqual(["ready"]);
    expect(matching(replies, "zzz")).toEqual([]);
  });

  it("get an id the ingest service accepts", () => {
    expect(newTemplateId("Ready for pickup!")).toMatch(/^ready-for-pickup-[a-z0-9]{1,6}$/);
    expect(newTemplateId("¿Qué?")).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/);
  });
});
