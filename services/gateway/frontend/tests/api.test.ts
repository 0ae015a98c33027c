import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "@/api";

afterEach(() => vi.unstubAllGlobals());

describe("api", () => {
  it("keeps the server's error code and message", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ error: { code: "opted_out", message: "no" } }),
      { status: 409 })));
    await expect(api("POST", "/api/x", {})).rejects.toEqual(new ApiError(409, "no", "opted_out"));
  });
});
