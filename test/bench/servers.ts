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
/**
 * `wrangler-dev` is what `npm run dev` runs: wrangler dev with its local trace collector off
 * (X_LOCAL_OBSERVABILITY=false). `wrangler-dev-traces` is `npm run dev:traces`, the collector
 * on (wrangler's default): informational, for ours and seed only.
 */
export type RunnerName = "wrangler-dev" | "wrangler-dev-traces" | "workerd" | "node";

/** A socket path and the reply it promises. Every server has `seed`; ours also has `echo`. */
export interface Endpoint {
  format: "seed" | "echo";
  path: string;
  check: ReplyCheck;
}

export interface Running {
  port: number;
  /**
   * ours only: the port of examples/caller-worker, whose `WS` service binding reaches ours'
   * `RoomService` entrypoint (its other paths are forwarded to ours). On bare workerd both
   * Workers are in ours' process; under wrangler dev it is a second `wrangler dev -c caller -c
   * ours`, with its own instance of ours (default vars).
   */
  callerPort?: number;
  /** Roots of further process trees this server started (the caller's wrangler dev): not `others`. */
  otherPids?: number[];
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
  // For `authenticate(token)` over capnweb (broadcast-500 via=capnweb).
  ADMIN_TOKEN: "bench-admin-token",
};

/** examples/caller-worker: `POST /broadcast`, `GET /count` over the `WS` service binding. */
const CALLER_CONFIG = join(ROOT, "examples/caller-worker/wrangler.jsonc");

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

const DEV_ENV: Record<"wrangler-dev" | "wrangler-dev-traces", Record<string, string>> = {
  // Explicit both ways ("true" is wrangler's default), so that neither the caller's environment
  // nor a default in the helper changes what a runner measures.
  "wrangler-dev": { X_LOCAL_OBSERVABILITY: "false" },
  "wrangler-dev-traces": { X_LOCAL_OBSERVABILITY: "true" },
};

/**
 * `withCaller`: also start `wrangler dev -c examples/caller-worker/wrangler.jsonc -c
 * wrangler.jsonc` (as `npm run dev:example` does), for the service-binding figures. `--var`
 * only reaches the caller there, so that instance of ours runs with its config's vars.
 */
function wranglerDev(
  name: keyof typeof CONFIGS,
  runner: "wrangler-dev" | "wrangler-dev-traces",
  withCaller = false,
): Server {
  return {
    server: name,
    runner,
    endpoints: ENDPOINTS[name],
    async start() {
      const [dev, caller] = await Promise.all([
        startDev({ configs: [CONFIGS[name]], vars: VARS[name], env: DEV_ENV[runner] }),
        withCaller ? startDev({ configs: [CALLER_CONFIG, CONFIGS[name]], env: DEV_ENV[runner] }) : undefined,
      ]);
      const servers = caller === undefined ? [dev] : [dev, caller];
      return {
        port: dev.port,
        callerPort: caller?.port,
        pid: dev.pid,
        otherPids: caller === undefined ? [] : [caller.pid],
        output: () => servers.map((s) => s.log()).join("\n"),
        async stop() {
          // The whole group first, with SIGKILL after a grace period (dev.stop() alone signals
          // once and waits for wrangler without a bound); then dev.stop() removes its state.
          await Promise.all(servers.map((s) => stopGroup(s.pid)));
          await Promise.all(servers.map((s) => s.stop()));
        },
      };
    },
  };
}

/** `withCaller`: examples/caller-worker in the same workerd process, on a port of its own. */
function bareWorkerd(name: keyof typeof CONFIGS, withCaller = false): Server {
  return {
    server: name,
    runner: "workerd",
    endpoints: ENDPOINTS[name],
    async start() {
      const port = await freePort();
      const callerPort = withCaller ? await freePort() : undefined;
      const dir = mkdtempSync(join(tmpdir(), `bench-workerd-${name}-`));
      const caller = callerPort === undefined ? undefined : { configPath: CALLER_CONFIG, port: callerPort };
      const config = await writeWorkerdConfig(ROOT, CONFIGS[name], dir, port, VARS[name], caller);
      const server = await launch(
        join(ROOT, "node_modules/.bin/workerd"),
        ["serve", config],
        async () => (await accepting(port)) && (callerPort === undefined || (await accepting(callerPort))),
      );
      return {
        port,
        callerPort,
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

/** node-ws also answers `POST /broadcast` (a loop of sends over its clients). */
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
  wranglerDev("ours", "wrangler-dev", true),
  wranglerDev("seed", "wrangler-dev"),
  wranglerDev("partyserver", "wrangler-dev"),
  // Informational (left out of --quick, no targets): what the trace collector costs.
  wranglerDev("ours", "wrangler-dev-traces"),
  // The same runner's baseline: seed's accept() sockets are traced per upgrade, not per message.
  wranglerDev("seed", "wrangler-dev-traces"),
  bareWorkerd("ours", true),
  bareWorkerd("seed"),
  bareWorkerd("partyserver"),
  nodeWs,
];
