/**
 * The servers under test, each under one runner, as descriptors the cases iterate over. A
 * server is started once for the whole bench on a free loopback port, in its own process
 * group, and stopped by ending that group.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, ROOT, startDev } from "../support/wrangler-dev.ts";
import { isEcho, isSeedReply, type ReplyCheck } from "./load.ts";
import { launch, stopGroup } from "./processes.ts";
import { writeWorkerdConfig } from "./workerd-config.ts";

export type ServerName = "ours" | "seed" | "partyserver" | "node-ws";
/** `wrangler-dev-noobs` is wrangler dev with its local trace collector off (X_LOCAL_OBSERVABILITY=false). */
export type RunnerName = "wrangler-dev" | "wrangler-dev-noobs" | "workerd" | "node";

/** A socket path and the reply it promises. Every server has `seed`; ours also has `echo`. */
export interface Endpoint {
  format: "seed" | "echo";
  path: string;
  check: ReplyCheck;
}

export interface Running {
  port: number;
  /** Leader of the server's process group: the root of the tree that RSS and CPU are read from. */
  pid: number;
  /** The last output of the server, for errors. */
  output(): string;
  stop(): Promise<void>;
}

export interface Server {
  server: ServerName;
  runner: RunnerName;
  endpoints: Endpoint[];
  start(): Promise<Running>;
}

/**
 * Limits of the project's Worker lifted for the bench: its defaults (50 messages/s, burst
 * 100 per connection; 10,000 per room) would close the sockets of a closed loop within a second.
 */
export const OURS_VARS = {
  MAX_MESSAGES_PER_SECOND: "1000000",
  MESSAGE_BURST: "1000000",
  MAX_CONNECTIONS_PER_ROOM: "100000",
};

const CONFIGS = {
  ours: join(ROOT, "wrangler.jsonc"),
  seed: join(ROOT, "test/bench/seed/wrangler.jsonc"),
  partyserver: join(ROOT, "test/bench/partyserver/wrangler.jsonc"),
};

const seedEndpoint = (path: string): Endpoint => ({ format: "seed", path, check: isSeedReply });
const ENDPOINTS: Record<keyof typeof CONFIGS, Endpoint[]> = {
  ours: [seedEndpoint("/websocket"), { format: "echo", path: "/websocket?format=echo", check: isEcho }],
  seed: [seedEndpoint("/websocket")],
  partyserver: [seedEndpoint("/parties/echo-server/foo")],
};
const VARS: Record<keyof typeof CONFIGS, Record<string, string>> = { ours: OURS_VARS, seed: {}, partyserver: {} };

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

function wranglerDev(name: keyof typeof CONFIGS, runner: "wrangler-dev" | "wrangler-dev-noobs"): Server {
  return {
    server: name,
    runner,
    endpoints: ENDPOINTS[name],
    async start() {
      const dev = await startDev({
        configs: [CONFIGS[name]],
        vars: VARS[name],
        // Explicit both ways ("true" is wrangler's default), so that neither the caller's
        // environment nor a default in the helper changes what a runner measures.
        env: { X_LOCAL_OBSERVABILITY: runner === "wrangler-dev-noobs" ? "false" : "true" },
      });
      return {
        port: dev.port,
        pid: dev.pid,
        output: dev.log,
        async stop() {
          // The whole group first, with SIGKILL after a grace period (dev.stop() alone signals
          // once and waits for wrangler without a bound); then dev.stop() removes its state.
          await stopGroup(dev.pid);
          await dev.stop();
        },
      };
    },
  };
}

function bareWorkerd(name: keyof typeof CONFIGS): Server {
  return {
    server: name,
    runner: "workerd",
    endpoints: ENDPOINTS[name],
    async start() {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), `bench-workerd-${name}-`));
      const config = await writeWorkerdConfig(ROOT, CONFIGS[name], dir, port, VARS[name]);
      const server = await launch(join(ROOT, "node_modules/.bin/workerd"), ["serve", config], () => accepting(port));
      return {
        port,
        pid: server.pid,
        output: server.output,
        async stop() {
          await stopGroup(server.pid);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const nodeWs: Server = {
  server: "node-ws",
  runner: "node",
  endpoints: [seedEndpoint("/websocket")],
  async start() {
    const port = await freePort();
    const server = await launch(process.execPath, [join(ROOT, "test/bench/node-ws.ts"), String(port)], () =>
      accepting(port),
    );
    return { port, pid: server.pid, output: server.output, stop: () => stopGroup(server.pid) };
  },
};

/** Every server the bench runs, in the order cases visit them (reversed on every other case). */
export const servers: Server[] = [
  wranglerDev("ours", "wrangler-dev"),
  wranglerDev("seed", "wrangler-dev"),
  wranglerDev("partyserver", "wrangler-dev"),
  wranglerDev("ours", "wrangler-dev-noobs"),
  // The same runner's baseline: seed's accept() sockets are traced per upgrade, not per message.
  wranglerDev("seed", "wrangler-dev-noobs"),
  bareWorkerd("ours"),
  bareWorkerd("seed"),
  bareWorkerd("partyserver"),
  nodeWs,
];
