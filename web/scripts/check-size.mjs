// The size budget, checked after every build: the loader a tenant's page includes (3 KB gzip) and the
// booking app's JavaScript (60 KB gzip, all of build/web/assets/*.js). Prints both, writes them to
// build/web/sizes.json for the tests and the bench, and fails the build when one is over.
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LOADER_BUDGET = 3072;
const APP_JS_BUDGET = 61440;

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build", "web");
const gzipSize = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const assetsSize = (ext) => {
  const dir = join(out, "assets");
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((name) => name.endsWith(ext))
    .reduce((sum, name) => sum + gzipSize(join(dir, name)), 0);
};

const loaderPath = join(out, "widget", "v1", "mais.js");
if (!existsSync(loaderPath)) {
  console.error(`size check: ${loaderPath} is missing; run the loader build first`);
  process.exit(1);
}
const sizes = {
  loaderGzipBytes: gzipSize(loaderPath),
  appJsGzipBytes: assetsSize(".js"),
  appCssGzipBytes: assetsSize(".css"),
};
writeFileSync(join(out, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");

console.log(`loader   ${sizes.loaderGzipBytes} B gzip (budget ${LOADER_BUDGET} B)`);
console.log(`app JS   ${sizes.appJsGzipBytes} B gzip (budget ${APP_JS_BUDGET} B)`);
console.log(`app CSS  ${sizes.appCssGzipBytes} B gzip`);

const over = [];
if (sizes.loaderGzipBytes > LOADER_BUDGET) over.push(`the loader is ${sizes.loaderGzipBytes} B gzip, over its ${LOADER_BUDGET} B budget`);
if (sizes.appJsGzipBytes > APP_JS_BUDGET) over.push(`the booking app's JavaScript is ${sizes.appJsGzipBytes} B gzip, over its ${APP_JS_BUDGET} B budget`);
if (over.length) {
  console.error(`size check failed: ${over.join("; ")}`);
  process.exit(1);
}
console.log("size ok");
