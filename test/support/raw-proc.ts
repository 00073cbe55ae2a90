/** Memory of a process tree from /proc (Linux), for printing a server's footprint in soak tests. */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessMemory {
  pid: number;
  command: string;
  rssKiB: number;
}

/** Parent pid of each process, from /proc/<pid>/stat (the command may hold spaces and parens). */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      map.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we read the table.
    }
  }
  return map;
}

/** `root` and all its descendants, each with its resident set size. */
export function treeMemory(root: number): ProcessMemory[] {
  const parentOf = parents();
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parentOf) {
      if (tree.has(parent) && !tree.has(pid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  const result: ProcessMemory[] = [];
  for (const pid of tree) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, 3).join(" ");
      result.push({ pid, command, rssKiB: Number(rss ?? 0) });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return result;
}

/** One line per process and the total, in MiB. */
export function formatMemory(label: string, processes: ProcessMemory[]): string {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const total = processes.reduce((sum, p) => sum + p.rssKiB, 0);
  const lines = processes.map((p) => `  ${String(p.pid).padStart(7)} ${mib(p.rssKiB).padStart(8)} MiB  ${p.command}`);
  return [`${label}: ${mib(total)} MiB RSS in ${processes.length} processes`, ...lines].join("\n");
}
