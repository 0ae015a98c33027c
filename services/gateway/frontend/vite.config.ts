// Relay's staff UI: built into the gateway's package (relay_gateway/ui), which serves it; nothing is fetched at run time.
import { fileURLToPath, URL } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// Same-origin files need no `crossorigin` attribute; without it the page's tags are exactly script src / link href.
const sameOriginTags = {
  name: "relay-same-origin-tags",
  transformIndexHtml: (html: string) => html.replace(/ crossorigin(="[^"]*")?/g, ""),
};

export default defineConfig({
  plugins: [vue(), sameOriginTags],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  base: "/ui/",
  build: {
    outDir: fileURLToPath(new URL("../relay_gateway/ui", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
  },
  test: {
    environment: "happy-dom",
    include: ["tests/**/*.test.ts"],
  },
});
