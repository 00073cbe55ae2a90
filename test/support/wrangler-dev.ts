/**
 * Starts `wrangler dev` on a free loopback port for end-to-end tests and benchmarks, keeps
 * its output (tests read the log), and stops the whole process tree.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

export interface DevServer {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  /** Everything wrangler and the Worker printed so far. */
  log(): string;
  /** Lines that show an exception thrown by our code or the runtime. */
  exceptions(): string[];
  pid: number;
  stop(): Promise<void>;
}

export interface DevOptions {
  /** Config files, the first serving the port (wrangler multi-config dev). */
  configs?: string[];
  vars?: Record<string, string>;
  env?: Record<string, string>;
  extraArgs?: string[];
  /** Command to run instead of wrangler dev; `{port}` is replaced. */
  command?: string[];
  readyPattern?: RegExp;
  /** A fixed port (to restart a server where clients expect it); a free one by default. */
  port?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Known noise: no internet here, so wrangler cannot fetch Request.cf (a warning only). */
const NOISE = /Request\.cf|workers\.cloudflare\.com|getaddrinfo|GetAddrInfoReqWrap|^\s+at /;

export async function startDev(options: DevOptions = {}): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const persist = mkdtempSync(join(tmpdir(), "ws-e2e-"));
  const configs = options.configs ?? ["wrangler.jsonc"];
  const args = options.command?.map((a) => a.replace("{port}", String(port))) ?? [
    join(ROOT, "node_modules/.bin/wrangler"),
    "dev",
    ...configs.flatMap((c) => ["-c", c]),
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    "0",
    "--persist-to",
    persist,
    "--show-interactive-dev-session=false",
    ...Object.entries(options.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ...(options.extraArgs ?? []),
  ];
  const [command, ...rest] = args;
  const child: ChildProcess = spawn(command ?? "", rest, {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      // Node 24 from node_modules/.bin first: wrangler needs Node >= 22.12.
      PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
      // As `npm run dev` does: wrangler's local trace collector costs ~5x per message under
      // the Hibernation API (test/bench/RESULTS.md), and no test reads traces.
      X_LOCAL_OBSERVABILITY: "false",
      CI: "true",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const ready = options.readyPattern ?? /Ready on http/;
  const deadline = Date.now() + 60_000;
  while (!ready.test(output)) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      killTree(child);
      throw new Error(`wrangler dev not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    pid: child.pid ?? 0,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    log: () => output,
    exceptions: () =>
      output
        .split("\n")
        .filter((l) => !NOISE.test(l))
        .filter((l) => /Uncaught|exception|Invalid WebSocket close code|\bError\b/i.test(l))
        .filter((l) => !/^\{"event":/.test(l)),
    async stop() {
      killTree(child);
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // Already gone: nothing to stop.
  }
}
