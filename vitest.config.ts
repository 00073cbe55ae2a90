import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { buildSync } from "esbuild";
import { defineConfig } from "vitest/config";
import { buildBrowser } from "./examples/browser/build.ts";

/** wrangler.jsonc serves the page from examples/browser/dist, which must exist first. */
buildBrowser();

/**
 * The example caller runs as an auxiliary Worker beside the Worker under test, bound to its
 * RoomService entrypoint: a real service binding between two Workers. Miniflare takes
 * JavaScript, so it is bundled here first.
 */
const CALLER_BUNDLE = "node_modules/.cache/test/caller-worker.js";
buildSync({
  entryPoints: ["examples/caller-worker/src/index.ts"],
  bundle: true,
  format: "esm",
  platform: "neutral",
  outfile: CALLER_BUNDLE,
  logLevel: "warning",
});

/**
 * Two projects, one command: `workers` runs inside workerd through the vitest plugin with the
 * real wrangler.jsonc; `e2e` runs in Node and starts `wrangler dev` on a free loopback port.
 */
export default defineConfig({
  test: {
    // The Worker logs one JSON line per connection event; keep test output readable.
    onConsoleLog: (line: string) => !line.startsWith('{"event":'),
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.jsonc" },
            // Small limits so that tests reach them quickly; defaults are tested in config.test.ts.
            miniflare: {
              bindings: {
                MAX_MESSAGE_BYTES: "4096",
                MAX_CONNECTIONS_PER_ROOM: "20",
                MAX_MESSAGES_PER_SECOND: "20",
                MESSAGE_BURST: "30",
                ADMIN_TOKEN: "test-admin-token",
              },
              serviceBindings: { CALLER: "caller-worker" },
              workers: [
                {
                  name: "caller-worker",
                  modules: true,
                  scriptPath: CALLER_BUNDLE,
                  compatibilityDate: "2026-11-01",
                  // The plugin renames the Worker under test "vitest-plugin-runner-<project>".
                  serviceBindings: { WS: { name: "vitest-plugin-runner-workers", entrypoint: "RoomService" } },
                },
              ],
            },
          }),
        ],
        test: {
          name: "workers",
          sequence: { groupOrder: 0 },
          include: ["test/workers/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          // After the workerd tests, not beside them: both start runtimes on 2 cores.
          sequence: { groupOrder: 1 },
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 90_000,
          // Each file starts its own wrangler dev; two at a time fit these 2-core machines.
          maxWorkers: 2,
        },
      },
      {
        // Needs Debian's chromium at /usr/bin/chromium: `npm run test:browser`.
        test: {
          name: "browser",
          sequence: { groupOrder: 2 },
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
