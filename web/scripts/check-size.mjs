// The size budget, checked after every build: the loader a tenant's page includes (3 KB gzip), the
// booking app's JavaScript (60 KB gzip: every script index.html loads, from Vite's manifest) and the
// dashboards' (150 KB gzip, admin.html's). Prints them, writes them to build/web/sizes.json for the tests and
// the bench, and fails the build when one is over.
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LOADER_BUDGET = 3072;
const APP_JS_BUDGET = 61440;
const ADMIN_JS_BUDGET = 153600;

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build", "web");
const gzipSize = (path) => gzipSync(readFileSync(path), { level: 9 }).length;

// The scripts and styles an HTML entry loads: its own chunk and every chunk it imports, each once.
const manifest = JSON.parse(readFileSync(join(out, ".vite", "manifest.json"), "utf8"));
const entrySize = (html, ext) => {
  const seen = new Set();
  const visit = (key) => {
    const chunk = manifest[key];
    if (!chunk || seen.has(key)) return;
    seen.add(key);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(html);
  let total = 0;
  const files = new Set();
  for (const key of seen) {
    const chunk = manifest[key];
    if (chunk.file.endsWith(ext)) files.add(chunk.file);
    for (const css of chunk.css ?? []) if (ext === ".css") files.add(css);
  }
  for (const file of files) total += gzipSize(join(out, file));
  return total;
};

const loaderPath = join(out, "widget", "v1", "mais.js");
if (!existsSync(loaderPath)) {
  console.error(`size check: ${loaderPath} is missing; run the loader build first`);
  process.exit(1);
}
const sizes = {
  loaderGzipBytes: gzipSize(loaderPath),
  appJsGzipBytes: entrySize("index.html", ".js"),
  appCssGzipBytes: entrySize("index.html", ".css"),
  adminJsGzipBytes: manifest["admin.html"] ? entrySize("admin.html", ".js") : 0,
};
writeFileSync(join(out, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");

console.log(`loader   ${sizes.loaderGzipBytes} B gzip (budget ${LOADER_BUDGET} B)`);
console.log(`app JS   ${sizes.appJsGzipBytes} B gzip (budget ${APP_JS_BUDGET} B)`);
console.log(`app CSS  ${sizes.appCssGzipBytes} B gzip`);
console.log(`admin JS ${sizes.adminJsGzipBytes} B gzip (budget ${ADMIN_JS_BUDGET} B)`);

const over = [];
if (sizes.loaderGzipBytes > LOADER_BUDGET) over.push(`the loader is ${sizes.loaderGzipBytes} B gzip, over its ${LOADER_BUDGET} B budget`);
if (sizes.appJsGzipBytes > APP_JS_BUDGET) over.push(`the booking app's JavaScript is ${sizes.appJsGzipBytes} B gzip, over its ${APP_JS_BUDGET} B budget`);
if (sizes.adminJsGzipBytes > ADMIN_JS_BUDGET) over.push(`the dashboards' JavaScript is ${sizes.adminJsGzipBytes} B gzip, over its ${ADMIN_JS_BUDGET} B budget`);
if (over.length) {
  console.error(`size check failed: ${over.join("; ")}`);
  process.exit(1);
}
console.log("size ok");
