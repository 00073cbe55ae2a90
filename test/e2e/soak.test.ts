/**
 * Soak: up to 1,000 sockets in one room, joining and leaving at random for SOAK_SECONDS
 * (default 30) with every close style, while a capnweb subscriber listens and a broadcast goes
 * out every second through `authenticate(token).broadcast()`. Then: the count is back to 0
 * over RPC, the 50 sockets open throughout got every broadcast in order, the server log has no
 * exception, and the server's memory (RSS of the wrangler dev tree) is printed.
 *
 * Eviction during traffic cannot be forced from Node against `wrangler dev` (workerd evicts
 * a room only after 10 s without events, and offers no outside trigger); the in-workerd test
 * test/workers/eviction.test.ts does that. What this file can do is let the room go idle
 * after the churn, long enough to hibernate, and check that its 50 sockets and their count
 * come back with the next broadcast.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type RoomEvent } from "../../rpc/client";
import { formatMemory, type ProcessMemory, treeMemory } from "../support/raw-proc";
import { eventually } from "../support/raw-room";
import { sleep } from "../support/raw-ws";
import { type DevServer, startDev } from "../support/wrangler-dev";

const TOKEN = "soak-token";
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const LONG_LIVED = 50;
const MAX_SOCKETS = 1_000;
const CHURN_MAX = MAX_SOCKETS - LONG_LIVED;
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);

const STYLES = ["close 1000", "close without code", "terminate", "close 4000 with reason"] as const;
type Style = (typeof STYLES)[number];

/** Small seeded PRNG (mulberry32), so that a failing run can be replayed with SOAK_SEED. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Member {
  ws: WebSocket;
  /** Broadcasts received, in order. */
  heard: string[];
}

let server: DevServer;
const members = new Set<Member>();

beforeAll(async () => {
  server = await startDev({ vars: { ADMIN_TOKEN: TOKEN, MAX_CONNECTIONS_PER_ROOM: String(MAX_SOCKETS * 2) } });
});
afterAll(async () => {
  for (const m of members) m.ws.terminate();
  await server?.stop();
});

function join(url: string): Promise<Member> {
  const ws = new WebSocket(url);
  const member: Member = { ws, heard: [] };
  ws.on("message", (data: Buffer, binary: boolean) => {
    if (!binary) member.heard.push(data.toString("utf8"));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (ws.terminate(), reject(new Error("no upgrade within 15 s"))), 15_000);
    ws.once("open", () => (clearTimeout(timer), members.add(member), resolve(member)));
    ws.once("unexpected-response", (_req, res) => (clearTimeout(timer), reject(new Error(`HTTP ${res.statusCode}`))));
    ws.once("error", (error) => (clearTimeout(timer), reject(error)));
  });
}

function leave(member: Member, style: Style): void {
  members.delete(member);
  switch (style) {
    case "close 1000":
      member.ws.close(1000);
      break;
    case "close without code":
      member.ws.close();
      break;
    case "terminate":
      member.ws.terminate();
      break;
    case "close 4000 with reason":
      member.ws.close(4000, "soak: leaving with a reason");
      break;
  }
}

function totalMiB(processes: ProcessMemory[]): number {
  return processes.reduce((sum, p) => sum + p.rssKiB, 0) / 1024;
}

describe(`soak: up to ${MAX_SOCKETS} sockets in one room`, () => {
  it("keeps counts, broadcasts and subscriptions right through random joins and leaves", async () => {
    const room = `soak-${Date.now().toString(36)}`;
    const url = `${server.wsUrl}/rooms/${room}/websocket`;
    const rand = random(SEED);
    const before = treeMemory(server.pid);

    using api = connect(server.url);
    const rooms = api.authenticate(TOKEN);
    const events: RoomEvent[] = [];
    await api.subscribe(room, (event) => void events.push(event));

    const longLived: Member[] = [];
    for (let i = 0; i < LONG_LIVED; i += 10) {
      longLived.push(...(await Promise.all(Array.from({ length: 10 }, () => join(url)))));
    }
    expect(await api.getConnectionCount(room)).toBe(LONG_LIVED);

    // Broadcasts: one a second, each awaited, so that their order is defined.
    const sent: string[] = [];
    const reports: { delivered: number; failed: number }[] = [];
    let churning = true;
    const broadcasting = (async () => {
      for (let i = 0; churning; i++) {
        const message = `broadcast ${i}`;
        sent.push(message);
        const report = await rooms.broadcast(message, { room });
        reports.push({ delivered: report.delivered, failed: report.failed });
        await sleep(1_000);
      }
    })();

    // Churn: the population walks at random between 0 and CHURN_MAX.
    const churn: Member[] = [];
    const left: Record<Style, number> = {
      "close 1000": 0,
      "close without code": 0,
      terminate: 0,
      "close 4000 with reason": 0,
    };
    const failures: string[] = [];
    let opened = 0;
    let peakSockets = 0;
    let peak = before;
    let nextSample = Date.now() + 5_000;
    const deadline = Date.now() + SOAK_SECONDS * 1_000;
    let target = 0;
    while (Date.now() < deadline) {
      target = Math.max(0, Math.min(CHURN_MAX, target + Math.round((rand() - 0.45) * 120)));
      if (churn.length < target) {
        const batch = Math.min(target - churn.length, 40);
        const results = await Promise.allSettled(Array.from({ length: batch }, () => join(url)));
        for (const r of results) {
          if (r.status === "fulfilled") {
            churn.push(r.value);
            opened++;
          } else failures.push(String(r.reason));
        }
      } else {
        const count = Math.min(churn.length - target, 40);
        for (let i = 0; i < count; i++) {
          const [member] = churn.splice(Math.floor(rand() * churn.length), 1);
          const style = STYLES[Math.floor(rand() * STYLES.length)] ?? "terminate";
          if (member === undefined) continue;
          leave(member, style);
          left[style]++;
        }
      }
      peakSockets = Math.max(peakSockets, churn.length + LONG_LIVED);
      if (Date.now() > nextSample) {
        const sample = treeMemory(server.pid);
        if (totalMiB(sample) > totalMiB(peak)) peak = sample;
        nextSample = Date.now() + 5_000;
      }
      await sleep(50);
    }
    churning = false;
    await broadcasting;

    // Everyone who churned leaves, each in a random style; the room counts only the 50.
    for (const member of churn.splice(0)) {
      const style = STYLES[Math.floor(rand() * STYLES.length)] ?? "terminate";
      leave(member, style);
      left[style]++;
    }
    await eventually(async () => (await api.getConnectionCount(room)) === LONG_LIVED, "the churn to drain", 30_000);

    // Idle long enough for workerd to hibernate the room, then one more broadcast.
    await sleep(12_000);
    sent.push("after idle");
    const last = await rooms.broadcast("after idle", { room });
    reports.push({ delivered: last.delivered, failed: last.failed });
    expect(await api.getConnectionCount(room)).toBe(LONG_LIVED);

    await eventually(() => longLived.every((m) => m.heard.length >= sent.length), "the last broadcast", 10_000);
    for (const [i, member] of longLived.entries()) {
      expect(member.heard, `long-lived socket ${i}`).toEqual(sent);
    }
    for (const report of reports) {
      expect(report.failed).toBe(0);
      expect(report.delivered).toBeGreaterThanOrEqual(LONG_LIVED);
    }
    expect(failures, "sockets that could not join").toEqual([]);

    // The long-lived sockets leave too: the count is 0 over RPC, and the subscriber heard it.
    for (const [i, member] of longLived.entries()) leave(member, STYLES[i % STYLES.length] ?? "terminate");
    await eventually(async () => (await api.getConnectionCount(room)) === 0, "the room to empty", 30_000);
    await eventually(() => {
      const last = events.at(-1);
      return last?.type === "leave" && last.connections === 0;
    }, "the subscriber to hear the room empty");
    const heardBroadcasts = events.flatMap((e) => (e.type === "broadcast" ? [String(e.data)] : []));
    expect(heardBroadcasts).toEqual(sent);
    // One join and one leave per socket, whatever the close style.
    const joins = events.filter((e) => e.type === "join").length;
    const leaves = events.filter((e) => e.type === "leave").length;
    expect({ joins, leaves }).toEqual({ joins: LONG_LIVED + opened, leaves: LONG_LIVED + opened });

    await sleep(1_000);
    const after = treeMemory(server.pid);
    console.log(
      [
        `soak: ${SOAK_SECONDS} s, seed ${SEED}: ${opened} churn sockets opened, peak ${peakSockets} at once, ` +
          `${sent.length} broadcasts, ${events.length} subscriber events; left by ${JSON.stringify(left)}`,
        formatMemory("server memory before", before),
        formatMemory("server memory at peak (sampled every 5 s)", peak),
        formatMemory("server memory after", after),
      ].join("\n"),
    );
    expect(server.exceptions()).toEqual([]);
  }, 240_000);
});
