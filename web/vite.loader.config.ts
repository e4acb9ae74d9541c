// The loader a tenant's site includes: one small classic script at a stable URL (/widget/v1/mais.js),
// no framework, no hash in its name (the gateway serves it with a short cache lifetime instead).
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "../build/web/widget/v1",
    emptyOutDir: false,
    target: "es2018",
    minify: true,
    lib: {
      entry: "src/loader/mais.ts",
      formats: ["iife"],
      name: "MAISLoader",
      fileName: () => "mais.js",
    },
  },
});
