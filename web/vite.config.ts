// The couple's pages: one HTML shell (the gateway fills in the page's config and headers) and one
// hashed bundle under /assets/. Output goes to ../build/web, beside the generated code, never committed.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../build/web",
    emptyOutDir: true,
    manifest: true,
    target: "es2020",
    // No inline script: the pages' CSP allows scripts from the platform's origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // The couple's pages and the dashboards: two entries, so the widget never loads the dashboards' code.
    rollupOptions: { input: { index: "index.html", admin: "admin.html" } },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
