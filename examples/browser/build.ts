/**
 * Builds the example page into examples/browser/dist, which the Worker serves at `/` as
 * static assets. wrangler runs it before `dev` and `deploy` (`build` in wrangler.jsonc);
 * the tests run it too. esbuild, because the project has it already.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
export const BROWSER_DIST = join(here, "dist");

export function buildBrowser(): void {
  mkdirSync(BROWSER_DIST, { recursive: true });
  buildSync({
    entryPoints: [join(here, "src/main.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    minify: true,
    sourcemap: true,
    outfile: join(BROWSER_DIST, "main.js"),
    logLevel: "warning",
  });
  for (const file of ["index.html", "style.css"]) copyFileSync(join(here, file), join(BROWSER_DIST, file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildBrowser();
