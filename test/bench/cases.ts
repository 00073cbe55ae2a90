/**
 * The bench cases. A case is one entry of `cases`: a name, which endpoints it runs on, the
 * columns of its table, and a function that loads one endpoint of one running server and
 * returns its figures. run.ts visits every server for a case before the next case, and
 * report.ts prints a table per case from `columns`, so adding a case is adding an entry.
 */
import type WebSocket from "ws";
import { batch, connect } from "../../rpc/client.ts";
import { closeAll, closedLoop, isEcho, openMany, openSocket, roundTrips, timed, untilAllReceive } from "./load.ts";
import { sleep, treeCpuSeconds, treeRssMiB } from "./processes.ts";
import { type Endpoint, OURS_VARS, type Running, type Server } from "./servers.ts";
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
  /** One of the case's `variants` for this server (appended to the case name), if it has any. */
  variant?: string;
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
  /**
   * Runs per endpoint of a server, each appended to the case name (`broadcast-500 via=binding`);
   * `[]` leaves the server out. Without it, one run per endpoint.
   */
  variants?(server: Server, running: Running): (string | undefined)[];
  /** A note printed under the case's table. */
  note?: string;
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
        const durationMs = quick ? 500 : 1_500;
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

const BROADCAST_SOCKETS = 500;
/** ours' room for case 4, apart from the default room of cases 1 to 3. */
const BROADCAST_ROOM = "bench-broadcast";

/** Where a server's 500 sockets connect and how one broadcast is triggered (→ sockets reached). */
function broadcastTarget(subject: Subject): { socketUrl: string; trigger: (message: string) => Promise<number> } {
  const { port, callerPort } = subject.running;
  const post = async (url: string, message: string) => {
    const response = await fetch(url, { method: "POST", body: message });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}: ${await response.text()}`);
    return ((await response.json()) as { delivered: number }).delivered;
  };
  switch (subject.server.server) {
    case "ours": {
      if (subject.variant === "via=binding") {
        // examples/caller-worker: POST /broadcast → env.WS.broadcast(body, { room }).
        const base = `127.0.0.1:${callerPort}`;
        return {
          socketUrl: `ws://${base}/rooms/${BROADCAST_ROOM}/websocket`,
          trigger: (m) => post(`http://${base}/broadcast?room=${BROADCAST_ROOM}`, m),
        };
      }
      throw new Error("via=capnweb has its own session");
    }
    case "seed":
      return { socketUrl: subject.url, trigger: (m) => post(`http://127.0.0.1:${port}/broadcast`, m) };
    case "partyserver":
      return { socketUrl: subject.url, trigger: (m) => post(`http://127.0.0.1:${port}/parties/echo-server/foo`, m) };
    case "node-ws":
      return { socketUrl: subject.url, trigger: (m) => post(`http://127.0.0.1:${port}/broadcast`, m) };
  }
}

/**
 * Case 4: 500 sockets in one room, then repeated broadcasts, each timed from just before the
 * call (or HTTP request) until the last of the 500 sockets has the message. ours: its
 * `broadcast()` over capnweb (one long-lived WebSocket session, `authenticate(token)` once,
 * then one call per broadcast) and over the service binding (examples/caller-worker's
 * `POST /broadcast`); seed: one `send()` per accepted socket in a loop (seed/worker.ts);
 * PartyServer: `this.broadcast()` from `onRequest`; node-ws: one `send()` per client.
 */
const broadcastFanOut: Case = {
  name: `broadcast-${BROADCAST_SOCKETS}`,
  title: `Broadcast fan-out, ${BROADCAST_SOCKETS} sockets: one call until the last socket has the message`,
  endpoints: "seed",
  repeatable: true,
  columns: ["p50", "p99", "broadcasts"],
  ratios: ["p50", "p99"],
  variants: (server, running) =>
    server.server === "ours"
      ? ["via=capnweb", ...(running.callerPort === undefined ? [] : ["via=binding"])]
      : [undefined],
  note: "Sockets and timer are in the bench process: from just before the call until the 500th socket has the message. ours via=capnweb: one WebSocket session, authenticate(token) once, then `rooms.broadcast(message, { room })` per broadcast; via=binding: `POST /broadcast?room=` to examples/caller-worker, which calls `env.WS.broadcast()`. seed: `POST /broadcast`, a loop of 500 `send()` in its object (a bench addition). partyserver: `this.broadcast()` in `onRequest`.",
  async run(subject, { quick }) {
    const rounds = quick ? 5 : 30;
    const warmUp = quick ? 1 : 3;
    let trigger: (message: string) => Promise<number>;
    let socketUrl: string;
    let dispose = () => {};
    if (subject.server.server === "ours" && subject.variant === "via=capnweb") {
      const api = connect(`http://127.0.0.1:${subject.running.port}`);
      const rooms = api.authenticate(OURS_VARS.ADMIN_TOKEN);
      socketUrl = `ws://127.0.0.1:${subject.running.port}/rooms/${BROADCAST_ROOM}/websocket`;
      trigger = async (m) => (await rooms.broadcast(m, { room: BROADCAST_ROOM })).delivered;
      dispose = () => {
        rooms[Symbol.dispose]();
        api[Symbol.dispose]();
      };
    } else {
      ({ socketUrl, trigger } = broadcastTarget(subject));
    }
    const { sockets } = await openMany(socketUrl, BROADCAST_SOCKETS, 50);
    try {
      const latencies: number[] = [];
      let errors = 0;
      for (let i = 0; i < warmUp + rounds; i++) {
        const message = `bench broadcast ${i} ${performance.now()}`;
        const arrived = untilAllReceive(sockets, message, 5_000);
        const sent = performance.now();
        const delivered = trigger(message);
        const last = await arrived;
        if ((await delivered) !== BROADCAST_SOCKETS) errors++;
        if (i >= warmUp) latencies.push(last - sent);
      }
      return [
        ...latencyFigures(latencies),
        { metric: "broadcasts", unit: "count", value: latencies.length },
        ...errorFigures(errors),
      ];
    } finally {
      dispose();
      await closeAll(sockets);
    }
  },
};

/** ours' room for case 5 (empty: the count is 0). */
const RPC_ROOM = "bench-rpc";

/**
 * Case 5: round trips of `getConnectionCount()` on ours, each variant against a reference
 * measured in the same run, alternately (one reference, one call): capnweb over one WebSocket
 * session, a new HTTP batch per call, the service binding (the caller's `GET /count`) against
 * one raw echo on `/websocket?format=echo` of ours' own port; ten calls pipelined in one HTTP
 * batch, and ten sequential batches, against one call in one batch.
 */
const rpcRoundTrips: Case = {
  name: "rpc",
  title: "RPC round trips: getConnectionCount() against a raw echo or one batched call",
  endpoints: "seed",
  repeatable: true,
  columns: ["p50", "p99", "ref_p50", "p50_x_ref"],
  ratios: [],
  variants: (server, running) =>
    server.server !== "ours"
      ? []
      : [
          "echo",
          "capnweb-ws",
          "http-batch",
          ...(running.callerPort === undefined ? [] : ["binding"]),
          "batch-10-pipelined",
          "batch-10-sequential",
        ],
  note: "ref: for echo, none; for capnweb-ws, http-batch and binding, one raw echo round trip (`/websocket?format=echo`, one socket, ours' own port); for batch-10-pipelined and batch-10-sequential, one call in one new HTTP batch. Reference and call alternate within a run; p50_x_ref = p50 ÷ ref_p50. binding under wrangler dev: the caller's own instance of ours (a second wrangler dev); the echo is on the main one.",
  async run(subject, { quick }) {
    const http = `http://127.0.0.1:${subject.running.port}`;
    const ws = await openSocket(`ws://127.0.0.1:${subject.running.port}/websocket?format=echo`, 10_000);
    const session = subject.variant === "capnweb-ws" ? connect(http) : undefined;
    try {
      const echo = async () => {
        const { latencies, errors } = await roundTrips(ws, 1, 5_000, isEcho);
        if (errors > 0) throw new Error("bad echo");
        return latencies[0] ?? Number.NaN;
      };
      const oneBatch = () => timed(() => batch(http).getConnectionCount(RPC_ROOM));
      const calls: Record<string, { ref?: () => Promise<number>; call: () => Promise<number> }> = {
        echo: { call: echo },
        "capnweb-ws": { ref: echo, call: () => timed(() => session!.getConnectionCount(RPC_ROOM)) },
        "http-batch": { ref: echo, call: oneBatch },
        binding: {
          ref: echo,
          call: () =>
            timed(async () => {
              const response = await fetch(`http://127.0.0.1:${subject.running.callerPort}/count?room=${RPC_ROOM}`);
              if (!response.ok) throw new Error(`HTTP ${response.status} from /count`);
              await response.json();
            }),
        },
        "batch-10-pipelined": {
          ref: oneBatch,
          call: () =>
            timed(() => {
              const stub = batch(http);
              return Promise.all(Array.from({ length: 10 }, () => stub.getConnectionCount(RPC_ROOM)));
            }),
        },
        "batch-10-sequential": {
          ref: oneBatch,
          call: () =>
            timed(async () => {
              for (let i = 0; i < 10; i++) await batch(http).getConnectionCount(RPC_ROOM);
            }),
        },
      };
      const { ref, call } = calls[subject.variant ?? ""] ?? calls.echo!;
      const sequential = subject.variant === "batch-10-sequential";
      const count = quick ? (sequential ? 10 : 50) : sequential ? 30 : 200;
      const deadline = performance.now() + (quick ? 1_500 : 2_000);
      for (let i = 0; i < Math.max(5, count / 10); i++) await ref?.(), await call(); // warm-up
      const refs: number[] = [];
      const latencies: number[] = [];
      for (let i = 0; i < count && performance.now() < deadline; i++) {
        if (ref !== undefined) refs.push(await ref());
        latencies.push(await call());
      }
      const figures = [...latencyFigures(latencies), { metric: "calls", unit: "count", value: latencies.length }];
      if (ref === undefined) return figures;
      return [
        ...figures,
        { metric: "ref_p50", unit: "ms", value: median(refs) },
        { metric: "p50_x_ref", unit: "×", value: median(latencies) / median(refs) },
      ];
    } finally {
      session?.[Symbol.dispose]();
      await closeAll([ws]);
    }
  },
};

/** In run order: idle memory first (fresh servers), then cases 1 and 2, then 4 and 5. */
export const cases: Case[] = [
  upgradesAndMemory,
  roundTrip,
  throughput(1),
  throughput(50),
  throughput(500),
  broadcastFanOut,
  rpcRoundTrips,
];
