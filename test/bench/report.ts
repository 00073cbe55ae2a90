/**
 * What the bench prints: a markdown table per case with ratios to `seed` (same runner) and
 * to `node-ws`, memory and CPU per process of each server tree, and the targets.
 */
import type { Case } from "./cases.ts";
import type { RunnerName, ServerName } from "./servers.ts";

/** One median figure, as written to `--json`. */
export interface Row {
  server: ServerName;
  runner: RunnerName;
  case: string;
  metric: string;
  unit: string;
  value: number;
}

/** Metrics where less is better; for the others (rates) more is better. */
const LOWER_IS_BETTER = new Set(["p50", "p99", "rss_mib_per_1000", "p50_x_ref"]);

function format(value: number | undefined, unit = ""): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (unit === "ms") return value < 10 ? value.toFixed(3) : value.toFixed(1);
  if (unit === "MiB" || unit === "cores") return value.toFixed(unit === "cores" ? 2 : 1);
  if (unit === "×") return `${value.toFixed(2)}×`;
  return Math.round(value).toLocaleString("en-US");
}

function lookup(
  rows: Row[],
  server: ServerName,
  runner: RunnerName,
  caseName: string,
  metric: string,
): number | undefined {
  return rows.find((r) => r.server === server && r.runner === runner && r.case === caseName && r.metric === metric)
    ?.value;
}

/** `value / of`, undefined when either is missing. */
function ratio(value: number | undefined, of: number | undefined): number | undefined {
  if (value === undefined || of === undefined || of === 0) return undefined;
  return value / of;
}

/**
 * A markdown table padded to its columns, so that it reads in a terminal too (and is what the
 * project's formatter would write): text columns left-aligned, figures right-aligned.
 */
function table(header: string[], body: string[][]): string {
  const textColumns = header.filter((h) => h === "case" || h === "server" || h === "runner").length;
  const widths = header.map((h, i) => Math.max(3, h.length, ...body.map((row) => (row[i] ?? "").length)));
  const pad = (cell: string, i: number) =>
    i < textColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0);
  const line = (cells: string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = widths.map((w, i) => (i < textColumns ? "-".repeat(w) : `${"-".repeat(w - 1)}:`));
  return [line(header), `| ${rule.join(" | ")} |`, ...body.map(line)].join("\n");
}

/** `rtt format=echo` → `rtt`: an endpoint's rows share the table of their case. */
const baseCase = (caseName: string) => caseName.split(" ")[0] ?? caseName;

/** The server of a row as a table shows it: `ours format=echo` for the echo endpoint. */
const serverLabel = (row: Row) => [row.server, ...row.case.split(" ").slice(1)].join(" ");

const RUNNERS: RunnerName[] = ["wrangler-dev", "wrangler-dev-traces", "workerd", "node"];
const SERVERS: ServerName[] = ["ours", "seed", "partyserver", "node-ws"];

/**
 * Distinct (server, runner, case) of `rows`, grouped by runner then server whatever order
 * they ran in; a server's endpoints stay in run order (the stable sort keeps `seed` first).
 */
function runs(rows: Row[]): Row[] {
  const distinct = [...new Map(rows.map((r) => [`${r.server}|${r.runner}|${r.case}`, r])).values()];
  return distinct.sort(
    (a, b) =>
      RUNNERS.indexOf(a.runner) - RUNNERS.indexOf(b.runner) || SERVERS.indexOf(a.server) - SERVERS.indexOf(b.server),
  );
}

/** A table per case, in the order of `cases`, with the columns each case names. */
export function caseTables(rows: Row[], cases: Case[]): string {
  const sections: string[] = [];
  for (const benchCase of cases) {
    const base = benchCase.name;
    const ofCase = rows.filter((r) => baseCase(r.case) === base);
    if (ofCase.length === 0) continue;
    const unit = (metric: string) => ofCase.find((r) => r.metric === metric)?.unit ?? "";
    const hasNodeWs = ofCase.some((r) => r.server === "node-ws");
    const header = [
      "server",
      "runner",
      ...benchCase.columns.map((m) => `${m} (${unit(m)})`),
      ...benchCase.ratios.flatMap((m) => [`${m} ×seed`, ...(hasNodeWs ? [`${m} ×node-ws`] : [])]),
      "others (cores)",
    ];
    const body = runs(ofCase).map((run) => [
      serverLabel(run),
      run.runner,
      ...benchCase.columns.map((m) => format(lookup(rows, run.server, run.runner, run.case, m), unit(m))),
      ...benchCase.ratios.flatMap((m) => {
        const value = lookup(rows, run.server, run.runner, run.case, m);
        return [
          format(ratio(value, lookup(rows, "seed", run.runner, base, m)), "×"),
          ...(hasNodeWs ? [format(ratio(value, lookup(rows, "node-ws", "node", base, m)), "×")] : []),
        ];
      }),
      format(lookup(rows, run.server, run.runner, run.case, "cpu_others"), "cores"),
    ]);
    const notes = ofCase
      .filter((r) => r.metric === "errors")
      .map((r) => `- ${serverLabel(r)} on ${r.runner}: ${r.value} bad or missing replies`);
    if (benchCase.note !== undefined) notes.unshift(benchCase.note);
    const heading = `### ${base}: ${benchCase.title}`;
    sections.push([heading, "", table(header, body), ...(notes.length > 0 ? ["", ...notes] : [])].join("\n"));
  }
  return sections.join("\n\n");
}

/**
 * Figures per process of each server tree: `cpu` (cores busy during the throughput cases,
 * with the server's CPU time per message and the client's cores) or `rss` (MiB per 1,000
 * idle connections).
 */
export function perProcessTable(rows: Row[], prefix: "cpu" | "rss"): string {
  const ofPrefix = rows.filter((r) => r.metric.startsWith(`${prefix} `));
  const label = (r: Row) => r.metric.slice(prefix.length + 1);
  const processes = [...new Set(ofPrefix.map(label))].filter((l) => l !== "client").sort();
  const header = ["case", "server", "runner", ...processes];
  if (prefix === "cpu") header.push("server CPU µs/msg", "client");
  const body = runs(ofPrefix).map((run) => {
    const value = (l: string) => lookup(ofPrefix, run.server, run.runner, run.case, `${prefix} ${l}`);
    const cells = [
      baseCase(run.case),
      serverLabel(run),
      run.runner,
      ...processes.map((l) => format(value(l), prefix === "cpu" ? "cores" : "MiB")),
    ];
    if (prefix === "cpu") {
      const cores = processes.reduce((sum, l) => sum + (value(l) ?? 0), 0);
      const rate = lookup(rows, run.server, run.runner, run.case, "msgs_per_s");
      cells.push(rate === undefined ? "–" : format((cores / rate) * 1e6), format(value("client"), "cores"));
    }
    return cells;
  });
  return table(header, body);
}

interface Goal {
  /** ours' row: its case (endpoint or variant included) and metric. */
  caseName: string;
  metric: string;
  /**
   * The row ours is divided by, on the same runner: a server's row of `caseName` (without
   * ours' variant). Left out when ours' metric is itself a ratio measured in one run (`p50_x_ref`).
   */
  against?: ServerName;
  /** Ratio that meets the goal: at least `limit` for rates, at most for the rest. */
  limit: number;
  /** How the goal reads when `against` is left out. */
  what?: string;
}

/** The project's targets for ours (its `/websocket`, seed replies, unless a case says otherwise). */
const GOALS: Goal[] = [
  { caseName: "throughput-50", metric: "msgs_per_s", against: "seed", limit: 1.0 },
  { caseName: "throughput-500", metric: "msgs_per_s", against: "seed", limit: 1.0 },
  { caseName: "rtt", metric: "p50", against: "seed", limit: 1.1 },
  { caseName: "idle-1000", metric: "rss_mib_per_1000", against: "seed", limit: 1.0 },
  // At least as good as PartyServer on the headline figure of every case.
  { caseName: "rtt", metric: "p50", against: "partyserver", limit: 1.0 },
  { caseName: "throughput-1", metric: "msgs_per_s", against: "partyserver", limit: 1.0 },
  { caseName: "throughput-50", metric: "msgs_per_s", against: "partyserver", limit: 1.0 },
  { caseName: "throughput-500", metric: "msgs_per_s", against: "partyserver", limit: 1.0 },
  { caseName: "idle-1000", metric: "upgrades_per_s", against: "partyserver", limit: 1.0 },
  { caseName: "idle-1000", metric: "rss_mib_per_1000", against: "partyserver", limit: 1.0 },
  // Case 4: one broadcast to 500 sockets no slower than the seed's 500 individual sends.
  { caseName: "broadcast-500 via=binding", metric: "p50", against: "seed", limit: 1.0 },
  { caseName: "broadcast-500 via=capnweb", metric: "p50", against: "seed", limit: 1.0 },
  // Case 5: RPC overhead against the raw socket, and pipelining.
  {
    caseName: "rpc capnweb-ws",
    metric: "p50_x_ref",
    limit: 1.3,
    what: "capnweb getConnectionCount() RTT p50 ≤ 1.3× one raw echo RTT",
  },
  {
    caseName: "rpc batch-10-pipelined",
    metric: "p50_x_ref",
    limit: 1.5,
    what: "ten calls pipelined in one HTTP batch p50 ≤ 1.5× one call in one batch",
  },
];

const percent = (fraction: number) => `${(fraction * 100).toFixed(0)}%`;

/**
 * Each target on each runner where both rows ran: the ratio, met or missed, and by how much.
 * Targets are about the runners developers and production use: wrangler-dev (`npm run dev`)
 * and bare workerd; wrangler-dev-traces is informational.
 */
export function targets(rows: Row[]): string {
  const lines: string[] = [];
  let met = 0;
  let missed = 0;
  for (const runner of ["wrangler-dev", "workerd"] as const) {
    for (const goal of GOALS) {
      if (goal.against !== undefined && !rows.some((r) => r.server === goal.against && r.runner === runner)) continue;
      const lower = LOWER_IS_BETTER.has(goal.metric);
      const value = lookup(rows, "ours", runner, goal.caseName, goal.metric);
      const r =
        goal.against === undefined
          ? value
          : ratio(value, lookup(rows, goal.against, runner, baseCase(goal.caseName), goal.metric));
      const want =
        goal.against === undefined
          ? (goal.what ?? `${goal.caseName} ${goal.metric} ${lower ? "≤" : "≥"} ${goal.limit.toFixed(1)}`)
          : `${goal.caseName} ${goal.metric} ${lower ? "≤" : "≥"} ${goal.limit.toFixed(1)}× ${goal.against}`;
      if (r === undefined) {
        lines.push(`- ${runner}: ${want}: not measured`);
        continue;
      }
      const ok = lower ? r <= goal.limit : r >= goal.limit;
      if (ok) met++;
      else missed++;
      // Met: how much room is left. Missed: the change in ours that would just meet the limit.
      const how = ok
        ? `margin ${percent(Math.abs(r - goal.limit) / goal.limit)}`
        : lower
          ? `needs ${percent(1 - goal.limit / r)} less`
          : `needs ${percent(goal.limit / r - 1)} more`;
      lines.push(`- ${runner}: ${want}: ${ok ? "met" : "MISSED"} at ${r.toFixed(2)}× (${how})`);
    }
  }
  return [`${met} met, ${missed} missed.`, "", ...lines].join("\n");
}
