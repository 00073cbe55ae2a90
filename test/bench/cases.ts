/**
 * The bench cases. A case is one entry of `cases`: a name, which endpoints it runs on, the
 * columns of its table, and a function that loads one endpoint of one running server and
 * returns its figures. run.ts visits every server for a case before the next case, and
 * report.ts prints a table per case from `columns`, so adding a case is adding an entry.
 */
import type WebSocket from "ws";
import { closeAll, closedLoop, openMany, openSocket, roundTrips } from "./load.ts";
import { sleep, treeCpuSeconds, treeRssMiB } from "./processes.ts";
import type { Endpoint, Running, Server } from "./servers.ts";
import { median, quantile } from "./stats.ts";

export interface Figure {
  metric: string;
  unit: string;
  value: number;
}

/** One endpoint of one running server: what a case loads. */
export interface Subject {
  server: Server;
  running: Running;
  endpoint: Endpoint;
  /** ws://127.0.0.1:<port><path> */
  url: string;
}

export interface Options {
  /** The short pass for CI smoke runs. */
  quick: boolean;
}

export interface Case {
  /** The `case` of the JSON rows; an endpoint other than `seed` is appended (`rtt format=echo`). */
  name: string;
  title: string;
  /** `seed` runs one endpoint per server (the figure is about the server, not the reply). */
  endpoints: "all" | "seed";
  /** Whether a run disturbed by other processes may be repeated on the same server. */
  repeatable: boolean;
  /** Metrics in the case's table, in order. */
  columns: string[];
  /** Metrics that also get ratio columns (× seed of the same runner, × node-ws). */
  ratios: string[];
  run(subject: Subject, options: Options): Promise<Figure[]>;
}

const latencyFigures = (latencies: number[]): Figure[] => [
  { metric: "p50", unit: "ms", value: median(latencies) },
  { metric: "p99", unit: "ms", value: quantile(latencies, 0.99) },
];

const errorFigures = (errors: number): Figure[] =>
  errors > 0 ? [{ metric: "errors", unit: "count", value: errors }] : [];

/** `after - before` per process label, as figures named `<prefix> <label>`, times `scale`. */
function perProcess(
  prefix: string,
  unit: string,
  before: Map<string, number>,
  after: Map<string, number>,
  scale: number,
): Figure[] {
  return [...after].map(([label, value]) => ({
    metric: `${prefix} ${label}`,
    unit,
    value: (value - (before.get(label) ?? 0)) * scale,
  }));
}

const total = (values: Map<string, number>) => [...values.values()].reduce((a, b) => a + b, 0);

/**
 * Case 3: upgrades per second while opening idle sockets (at most 50 upgrades in flight),
 * and the RSS of the server's whole process tree they cost after a settle, summed and per
 * process. First in `cases`, so that every server is as fresh as it will be.
 */
const upgradesAndMemory: Case = {
  name: "idle-1000",
  title: "Upgrades and idle memory, 1,000 connections",
  endpoints: "seed",
  // Memory is measured on a fresh server; a second run would find the first one's heap.
  repeatable: false,
  columns: ["upgrades_per_s", "rss_mib_per_1000", "rss_mib_before"],
  ratios: ["upgrades_per_s", "rss_mib_per_1000"],
  async run(subject, { quick }) {
    const count = quick ? 200 : 1_000;
    const before = treeRssMiB(subject.running.pid);
    let sockets: WebSocket[] = [];
    try {
      const opened = await openMany(subject.url, count, 50);
      sockets = opened.sockets;
      await sleep(quick ? 500 : 3_000);
      const after = treeRssMiB(subject.running.pid);
      const perThousand = 1_000 / count;
      return [
        { metric: "upgrades_per_s", unit: "upg/s", value: count / opened.seconds },
        { metric: "rss_mib_per_1000", unit: "MiB", value: (total(after) - total(before)) * perThousand },
        { metric: "rss_mib_before", unit: "MiB", value: total(before) },
        ...perProcess("rss", "MiB", before, after, perThousand),
      ];
    } finally {
      await closeAll(sockets);
    }
  },
};

/** Case 1: one connection, one message at a time. */
const roundTrip: Case = {
  name: "rtt",
  title: "Echo round trip, 1 connection",
  endpoints: "all",
  repeatable: true,
  columns: ["p50", "p99"],
  ratios: ["p50", "p99"],
  async run(subject, { quick }) {
    const ws = await openSocket(subject.url, 10_000);
    try {
      // Warm-up: the first messages pay for JIT and for waking the object.
      await roundTrips(ws, quick ? 50 : 200, 2_000, subject.endpoint.check);
      const { latencies, errors } = await roundTrips(
        ws,
        quick ? 300 : 2_000,
        quick ? 1_000 : 4_000,
        subject.endpoint.check,
      );
      return [
        ...latencyFigures(latencies),
        { metric: "messages", unit: "count", value: latencies.length },
        ...errorFigures(errors),
      ];
    } finally {
      await closeAll([ws]);
    }
  },
};

/**
 * Case 2: closed loop, each connection sends its next message when its reply arrives. The
 * CPU time of every process of the server tree is read before and after, and this client's
 * own, to show which process the time goes to.
 */
function throughput(connections: number): Case {
  return {
    name: `throughput-${connections}`,
    title: `Closed-loop throughput, ${connections} connection${connections === 1 ? "" : "s"}`,
    endpoints: "all",
    repeatable: true,
    columns: ["msgs_per_s", "p50", "p99"],
    ratios: ["msgs_per_s"],
    async run(subject, { quick }) {
      const { sockets } = await openMany(subject.url, connections, 50);
      try {
        const durationMs = quick ? 500 : 2_000;
        const cpuBefore = treeCpuSeconds(subject.running.pid);
        const loop = await closedLoop(sockets, durationMs, quick ? 100 : 250, subject.endpoint.check);
        const cpuAfter = treeCpuSeconds(subject.running.pid);
        return [
          { metric: "msgs_per_s", unit: "msg/s", value: median(loop.windowRates) },
          ...latencyFigures(loop.latencies),
          ...perProcess("cpu", "cores", cpuBefore, cpuAfter, 1_000 / durationMs),
          { metric: "cpu client", unit: "cores", value: loop.clientCores },
          ...errorFigures(loop.errors),
        ];
      } finally {
        await closeAll(sockets);
      }
    },
  };
}

/** In run order: idle memory first (fresh servers), then cases 1 and 2. */
export const cases: Case[] = [upgradesAndMemory, roundTrip, throughput(1), throughput(50), throughput(500)];
