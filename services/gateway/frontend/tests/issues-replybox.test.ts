import { mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("@/stores/attention", () => ({
  useAttentionStore: () => ({ customerIssueWaiting: vi.fn(), customerIssueTaken: vi.fn(), toast: vi.fn() }),
}));

import ReplyBox from "@/issues/ReplyBox.vue";
import type { IssueSnapshot } from "@/issues/types";

const issue = (extra: Partial<IssueSnapshot> = {}): IssueSnapshot => ({
  issue_id: "iss_1", customer_id: "cus_1", customer_label: "(202) 555-0143", channel: "sms", status: "unassigned",
  opened_at: "2026-12-02T09:00:00Z", updated_at: "2026-12-02T09:00:00Z", status_label: "Unassigned",
  status_colour: "red", ...extra,
});

beforeEach(() => setActivePinia(createPinia()));
afterEach(() => vi.unstubAllGlobals());

describe("the reply box", () => {
  it("counts an SMS and offers plain characters for a curly quote", async () => {
    const box = mount(ReplyBox, { props: { issue: issue(), goesTo: "+12025550143" } });
    await box.get("textarea").setValue("It\u2019s ready");
    expect(box.get(".sms-count").text()).toBe("10 characters · UCS-2 · 1 segment");
    expect(box.text()).toContain("curly apostrophe");
    await box.get(".sms .warning button").trigger("click");
    expect((box.get("textarea").element as HTMLTextAreaElement).value).toBe("It's ready");
    expect(box.get(".sms-count").text()).toBe("10 characters · GSM-7 · 1 segment");
  });

  it("is blocked for a customer who texted STOP, naming them and the day", () => {
    const box = mount(ReplyBox, { props: { issue: issue({ sms_opted_out_at: "2026-12-01T15:00:00Z" }) } });
    expect(box.get("textarea").attributes("disabled")).toBeDefined();
    expect(box.get('[role="note"]').text()).toMatch(/^\(202\) 555-0143 texted STOP on .+; SMS replies are blocked$/);
    expect(box.find(".sms-count").exists()).toBe(false);
  });

  it("still lets an email go to a customer who texted STOP", () => {
    const box = mount(ReplyBox, { props: { issue: issue({ channel: "email", sms_opted_out_at: "2026-12-01T15:00:00Z" }) } });
    expect(box.get("textarea").attributes("disabled")).toBeUndefined();
    expect(box.find('[role="note"]').exists()).toBe(false);
  });

  it("shows the server's refusal of a reply", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ error: { code: "opted_out",
      message: "(202) 555-0143 texted STOP on Dec 1; SMS replies are blocked until they text START" } }), { status: 409 })));
    const box = mount(ReplyBox, { props: { issue: issue() } });
    await box.get("textarea").setValue("Your order is ready");
    await box.findAll("button").find((b) => b.text() === "Send reply")!.trigger("click");
    await vi.waitFor(() => expect(box.find('[role="alert"]').text()).toContain("texted STOP"));
  });
});
