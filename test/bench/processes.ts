/**
 * Server processes seen from /proc: the tree under a pid, its RSS and CPU time, and stopping a
 * whole process group so that no workerd outlives the bench. Linux only, like the servers.
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";

/** Clock ticks per second of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    // The process ended between listing and reading: it no longer counts.
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
function statFields(pid: number): string[] | undefined {
  const stat = readProc(pid, "stat");
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function allPids(): number[] {
  return readdirSync("/proc").map(Number).filter(Number.isInteger);
}

/**
 * `root` and all its descendants. /proc/<pid>/task/<tid>/children is not built into every
 * kernel (it is missing here), so parents are read from every /proc/<pid>/stat instead.
 */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    // Field 4 of stat, the first after state.
    const parent = Number(statFields(pid)?.[1]);
    const siblings = children.get(parent) ?? [];
    siblings.push(pid);
    children.set(parent, siblings);
  }
  const tree: number[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree.filter((pid) => readProc(pid, "stat") !== undefined);
}

/** Resident set size of one process in KiB (VmRSS), 0 when it is gone. */
function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readProc(pid, "status") ?? "");
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** User plus system CPU seconds a process has used so far (fields 14 and 15 of stat). */
function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  if (fields === undefined) return 0;
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * A short name for a process in a server tree. wrangler dev runs two workerd processes: the
 * proxy bound to the public port (entry=127.0.0.1:<port>) and the runtime of the user's
 * Worker (entry=127.0.0.1:0), so the socket argument tells them apart.
 */
export function processLabel(pid: number): string {
  const argv = (readProc(pid, "cmdline") ?? "").split("\0").filter((a) => a !== "");
  const program = basename(argv[0] ?? "?");
  if (program === "workerd") {
    const entry = argv.find((a) => a.startsWith("--socket-addr=entry="));
    if (entry === undefined) return "workerd";
    return entry.endsWith(":0") ? "workerd (runtime)" : "workerd (proxy)";
  }
  if (program === "node") {
    if (argv.some((a) => a.endsWith("wrangler-dist/cli.js"))) return "node (wrangler)";
    if (argv.some((a) => a.endsWith("/.bin/wrangler"))) return "node (wrangler launcher)";
    return `node (${basename(argv[1] ?? "?")})`;
  }
  return program;
}

/**
 * CPU seconds the whole machine has spent in processes (user, nice, system: not interrupts,
 * where the kernel does part of the loopback traffic of any process) since boot.
 */
export function machineCpuSeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]?.split(/\s+/) ?? [];
  return (Number(fields[1]) + Number(fields[2]) + Number(fields[3])) / CLOCK_TICKS;
}

/** CPU seconds used so far by every process of the machine, by pid. */
export function allCpuSeconds(): Map<number, number> {
  return new Map(allPids().map((pid) => [pid, cpuSeconds(pid)]));
}

/** Sums `measure(pid)` over a tree by process label (two processes may share a label). */
function byLabel(root: number, measure: (pid: number) => number): Map<string, number> {
  const sums = new Map<string, number>();
  for (const pid of processTree(root)) {
    const label = processLabel(pid);
    sums.set(label, (sums.get(label) ?? 0) + measure(pid));
  }
  return sums;
}

/** CPU seconds used so far by each process of a tree, by label. */
export const treeCpuSeconds = (root: number) => byLabel(root, cpuSeconds);

/** CPU seconds used so far by a whole tree. */
export const treeCpuTotal = (root: number) => processTree(root).reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** RSS in MiB of each process of a tree, by label. */
export const treeRssMiB = (root: number) => byLabel(root, (pid) => rssKiB(pid) / 1024);

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already empty.
  }
}

/**
 * Ends every process of a group that a server was started in: SIGTERM, then SIGKILL for
 * anything still there after `graceMs`. Waits until the group is empty, so that a finished
 * bench leaves no workerd behind even when wrangler dies before its children.
 */
export async function stopGroup(pgid: number, graceMs = 3_000): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGKILL");
  while (groupAlive(pgid)) await sleep(50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const OUTPUT_TAIL_CHARS = 64 * 1024;
const READY_TIMEOUT_MS = 30_000;

export interface Launched {
  pid: number;
  /** The last 64 KiB the process printed. */
  output(): string;
}

/**
 * Starts a server in its own process group (so `stopGroup(pid)` reaches all its children)
 * and waits (at most 30 s) until `ready()` holds, for servers that print nothing when they listen.
 */
export async function launch(command: string, args: string[], ready: () => Promise<boolean>): Promise<Launched> {
  const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  // Only the tail is kept: the project's Worker logs a line per connection, thousands a case.
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopGroup(pid);
      throw new Error(`${basename(command)} did not become ready (exit ${child.exitCode}):\n${output}`);
    }
    await sleep(100);
  }
  return { pid, output: () => output };
}
