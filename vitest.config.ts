import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

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
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 90_000,
          // Each file starts its own wrangler dev; two at a time fit these 2-core machines.
          maxWorkers: 2,
        },
      },
    ],
  },
});
