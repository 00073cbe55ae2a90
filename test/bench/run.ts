/**
 * `npm run bench [-- --quick] [-- --json FILE]`: starts every server of servers.ts on a free
 * loopback port, runs each case of cases.ts against each server in turn (the order reversed
 * on every other case, so that drift of this shared machine falls on all servers alike),
 * stops them all, and prints markdown tables, the CPU split and the targets. Progress goes
 * to stderr, the report to stdout.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../support/wrangler-dev.ts";
import { type Case, cases, type Figure, type Subject } from "./cases.ts";
import { allCpuSeconds, machineCpuSeconds, processLabel, processTree, treeCpuTotal } from "./processes.ts";
import { caseTables, perProcessTable, type Row, targets } from "./report.ts";
import { servers as allServers, OURS_VARS, type Running, type Server } from "./servers.ts";

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, json: { type: "string" } },
});
const quick = args.quick;
/** --quick leaves out the wrangler-dev-traces pair: an analysis of wrangler, not a smoke test. */
const servers = quick ? allServers.filter((s) => s.runner !== "wrangler-dev-traces") : allServers;
/** Past this, remaining runs are skipped, so that the whole bench stays near its bound. */
const BUDGET_MS = quick ? 50_000 : 165_000;
/** A single run of a case on one endpoint that takes longer than this is abandoned. */
const RUN_TIMEOUT_MS = quick ? 10_000 : 30_000;
/**
 * A run during which other processes kept more cores than this busy is repeated once, unless
 * the budget is within RETRY_RESERVE_MS of running out; never in --quick, a smoke pass.
 */
const NOISY_CORES = 0.25;
const RETRY_RESERVE_MS = 45_000;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const progress = (line: string) => process.stderr.write(`[${elapsed()}] ${line}\n`);

const running = new Map<Server, Running>();
/** Servers that did not start and runs that threw: the exit code is 1 when there are any. */
const failures: string[] = [];
/** Runs left out to stay within the budget: reported, not failures. */
const skipped: string[] = [];

/** Every stop begun, so that the last stopAll() also waits for those a signal began. */
const stops: Promise<void>[] = [];

/** Stops the servers running now (one that starts meanwhile is left for the next call). */
async function stopAll(): Promise<void> {
  stops.push(...[...running.values()].map((r) => r.stop()));
  running.clear();
  await Promise.all(stops);
}

/** Set by Ctrl-C or SIGTERM: no further server or run starts, and main() exits with 130. */
let interrupted = false;

// Ctrl-C or a CI timeout must not leave workerd processes behind. The servers are stopped at
// once (a run in progress then fails fast); main() stops any that was still starting.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping servers`);
    void stopAll();
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const summary = (figures: Figure[]) =>
  figures
    .filter((f) => !f.metric.startsWith("cpu ") && !f.metric.startsWith("rss "))
    .map((f) => `${f.metric} ${f.unit === "ms" ? f.value.toFixed(3) : Math.round(f.value * 10) / 10}`)
    .join(", ");

function subjectsOf(benchCase: Case, server: Server, run: Running): Subject[] {
  const endpoints =
    benchCase.endpoints === "seed" ? server.endpoints.filter((e) => e.format === "seed") : server.endpoints;
  const variants = benchCase.variants?.(server, run) ?? [undefined];
  return endpoints.flatMap((endpoint) =>
    variants.map((variant) => ({
      server,
      running: run,
      endpoint,
      url: `ws://127.0.0.1:${run.port}${endpoint.path}`,
      variant,
    })),
  );
}

/** `rtt`, `rtt format=echo`, `broadcast-500 via=binding`: the `case` of a subject's rows. */
function caseName(benchCase: Case, subject: Subject): string {
  return [
    benchCase.name,
    ...(subject.endpoint.format === "seed" ? [] : [`format=${subject.endpoint.format}`]),
    ...(subject.variant === undefined ? [] : [subject.variant]),
  ].join(" ");
}

/** Every process tree a running server started. */
const rootsOf = (run: Running) => [run.pid, ...(run.otherPids ?? [])];

/** CPU seconds of this process and of every server tree it started. */
function benchCpuSeconds(): number {
  const self = process.cpuUsage();
  return (
    (self.user + self.system) / 1e6 +
    [...running.values()].flatMap(rootsOf).reduce((sum, pid) => sum + treeCpuTotal(pid), 0)
  );
}

/** The two processes outside the bench that used the most CPU since `before`, with their cores. */
function busiestOthers(before: Map<number, number>, seconds: number): string {
  const bench = new Set([process.pid, ...[...running.values()].flatMap(rootsOf).flatMap((pid) => processTree(pid))]);
  return [...allCpuSeconds()]
    .filter(([pid]) => !bench.has(pid))
    .map(([pid, cpu]) => ({ pid, cores: (cpu - (before.get(pid) ?? 0)) / seconds }))
    .sort((a, b) => b.cores - a.cores)
    .slice(0, 2)
    .map(({ pid, cores }) => `${processLabel(pid)} ${cores.toFixed(2)}`)
    .join(", ");
}

interface Measured {
  figures: Figure[];
  /** Cores kept busy by processes outside the bench during the run (this machine is shared). */
  others: number;
  /** Who they were, when there were enough to matter. */
  culprits: string;
}

/** One run of a case on one endpoint, with the load other processes put on the machine meanwhile. */
async function measure(benchCase: Case, subject: Subject, what: string): Promise<Measured> {
  const processesBefore = allCpuSeconds();
  const machineBefore = machineCpuSeconds();
  const benchBefore = benchCpuSeconds();
  const t0 = performance.now();
  const figures = await withTimeout(benchCase.run(subject, { quick }), RUN_TIMEOUT_MS, what);
  const seconds = (performance.now() - t0) / 1000;
  const others = Math.max(0, (machineCpuSeconds() - machineBefore - (benchCpuSeconds() - benchBefore)) / seconds);
  return {
    figures: [...figures, { metric: "cpu_others", unit: "cores", value: others }],
    others,
    culprits: others > NOISY_CORES ? busiestOthers(processesBefore, seconds) : "",
  };
}

async function runCases(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [index, benchCase] of cases.entries()) {
    if (interrupted) break;
    const order = index % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const run = running.get(server);
      if (run === undefined || interrupted) continue;
      for (const subject of subjectsOf(benchCase, server, run)) {
        const name = caseName(benchCase, subject);
        const what = `${name} · ${server.server} · ${server.runner}`;
        if (performance.now() - started > BUDGET_MS) {
          skipped.push(what);
          continue;
        }
        const t0 = performance.now();
        try {
          let kept = await measure(benchCase, subject, what);
          let note = kept.others > NOISY_CORES ? ` (others busy: ${kept.culprits})` : "";
          if (
            !quick &&
            benchCase.repeatable &&
            kept.others > NOISY_CORES &&
            performance.now() - started < BUDGET_MS - RETRY_RESERVE_MS
          ) {
            const again = await measure(benchCase, subject, what);
            note = ` (repeated: others kept ${kept.others.toFixed(2)} cores busy [${kept.culprits}], then ${again.others.toFixed(2)})`;
            if (again.others < kept.others) kept = again;
          }
          for (const f of kept.figures) rows.push({ server: server.server, runner: server.runner, case: name, ...f });
          progress(`${what}: ${summary(kept.figures)} (${((performance.now() - t0) / 1000).toFixed(1)} s)${note}`);
        } catch (error) {
          const output = run.output().trim().split("\n").slice(-5).join("\n    ");
          failures.push(`${what}: ${String(error)}\n    last server output: ${output}`);
          progress(`${what}: FAILED ${String(error)}`);
        }
      }
    }
  }
  return rows;
}

function versions(): string {
  const workerd = (path: string) => execFileSync(join(ROOT, path), ["--version"], { encoding: "utf8" }).trim();
  const wrangler = (
    JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")) as { version: string }
  ).version;
  return [
    `${availableParallelism()} cores, Node ${process.version}, wrangler ${wrangler}`,
    `wrangler dev's workerd: ${workerd("node_modules/wrangler/node_modules/@cloudflare/workerd-linux-64/bin/workerd")}; bare runner: ${workerd("node_modules/.bin/workerd")}`,
  ].join("; ");
}

function oursVarsNote(): string {
  const vars = Object.entries(OURS_VARS)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return `ours runs with ${vars} (\`--var\` under wrangler dev, text bindings on workerd): its defaults (50 messages/s, burst 100 per connection) would close the sockets of a closed loop within a second.`;
}

function report(rows: Row[]): string {
  return [
    `## Bench ${new Date().toISOString().slice(0, 10)}${quick ? " (quick)" : ""}`,
    "",
    `Machine: ${versions()}.`,
    `Command: \`${["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ")}\``,
    "",
    oursVarsNote(),
    `p50/p99 are over every round trip of a run; msgs_per_s is the median of ${quick ? 100 : 250} ms windows; upgrades_per_s and RSS are one measurement per server.`,
    "Ratios are value ÷ seed on the same runner and value ÷ node-ws; for p50, p99 and RSS lower is better, for rates higher.",
    `\`others\` is the cores that processes outside the bench kept busy during the run (this machine is shared)${quick ? "" : "; a run over 0.25 is repeated once and the quieter kept"}.`,
    "",
    caseTables(rows, cases),
    "",
    "### Memory per 1,000 idle connections, per process of the server tree (MiB)",
    "",
    perProcessTable(rows, "rss"),
    "",
    "### CPU during throughput (cores busy per process of the server tree; this client's cores)",
    "",
    perProcessTable(rows, "cpu"),
    "",
    "### Targets",
    "",
    targets(rows),
    ...(failures.length > 0 ? ["", "### Failed", "", ...failures.map((f) => `- ${f}`)] : []),
    ...(skipped.length > 0
      ? ["", `### Skipped (over the ${BUDGET_MS / 1000} s budget)`, "", ...skipped.map((s) => `- ${s}`)]
      : []),
    "",
    `Total ${elapsed()}.`,
  ].join("\n");
}

async function main(): Promise<number> {
  let rows: Row[] = [];
  progress(`${quick ? "quick" : "full"} pass: ${servers.length} servers × ${cases.length} cases. ${oursVarsNote()}`);
  try {
    for (const server of servers) {
      if (interrupted) break;
      const t0 = performance.now();
      try {
        running.set(server, await server.start());
        progress(`started ${server.server} · ${server.runner} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (error) {
        failures.push(`${server.server} · ${server.runner}: did not start: ${String(error).slice(0, 2_000)}`);
        progress(`${server.server} · ${server.runner}: did not start`);
      }
    }
    rows = await runCases();
  } finally {
    progress("stopping servers");
    await stopAll();
  }
  if (interrupted) return 130;
  process.stdout.write(`${report(rows)}\n`);
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(rows, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

// exit() rather than waiting for the event loop: an abandoned run may still hold sockets.
process.exit(await main());
