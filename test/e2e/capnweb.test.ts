/**
 * The typed capnweb client (rpc/client.ts) from Node against `wrangler dev`: WebSocket and
 * HTTP batch sessions, auth, pipelining to real sockets, subscriptions and reconnection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batch, connect, errorCode, type RoomEvent, watchRoom } from "../../rpc/client";
import { type DevServer, startDev } from "../support/wrangler-dev";
import { type Client, openClient, within } from "../support/ws-client";

const TOKEN = "e2e-token";
let server: DevServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startDev({ vars: { ADMIN_TOKEN: TOKEN } });
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await server?.stop();
});

async function join(room: string): Promise<Client> {
  const client = await openClient(`${server.wsUrl}/rooms/${room}/websocket`);
  clients.push(client);
  return client;
}

function recorder() {
  const events: RoomEvent[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    listener: (event: RoomEvent) => {
      events.push(event);
      wake?.();
    },
    async until(check: (events: RoomEvent[]) => boolean, what: string) {
      const deadline = Date.now() + 10_000;
      while (!check(events)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; heard ${JSON.stringify(events)}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
      }
    },
  };
}

/** Counts HTTP requests made by capnweb's batch client (it uses the global fetch). */
async function countingFetches<T>(run: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const original = globalThis.fetch;
  let requests = 0;
  globalThis.fetch = (input, init) => (requests++, original(input, init));
  try {
    return { result: await run(), requests };
  } finally {
    globalThis.fetch = original;
  }
}

describe("capnweb from Node", () => {
  it("counts connections over WebSocket and over HTTP batch", async () => {
    const room = `cw-count-${Date.now()}`;
    await join(room);
    await join(room);
    using api = connect(server.url);
    expect(await api.getConnectionCount(room)).toBe(2);
    expect(await batch(server.url).getConnectionCount(room)).toBe(2);
  });

  it("refuses authentication without the right token", async () => {
    using api = connect(server.url);
    const wrong = await api.authenticate("nope").then(
      () => "accepted",
      (e: unknown) => errorCode(e),
    );
    expect(wrong).toBe("forbidden");
    const anonymous = api as unknown as { broadcast(message: string): Promise<unknown> };
    const refused = await anonymous.broadcast("hi").then(
      () => "accepted",
      (e: unknown) => errorCode(e),
    );
    expect(refused).toBe("unauthenticated");
    const viaBatch = await batch(server.url)
      .authenticate("")
      .broadcast("x")
      .then(
        () => "accepted",
        (e: unknown) => errorCode(e),
      );
    expect(viaBatch).toBe("forbidden");
  });

  it("pipelines authenticate + broadcast to real sockets, in one HTTP request for a batch", async () => {
    const room = `cw-pipe-${Date.now()}`;
    const a = await join(room);
    const b = await join(room);
    using api = connect(server.url);
    expect(await api.authenticate(TOKEN).broadcast("over ws", { room })).toEqual({
      delivered: 2,
      failed: 0,
      excluded: 0,
    });
    expect([await a.next(), await b.next()]).toEqual(["over ws", "over ws"]);

    const { result, requests } = await countingFetches(() =>
      batch(server.url).authenticate(TOKEN).broadcast("over batch", { room }),
    );
    expect(result).toEqual({ delivered: 2, failed: 0, excluded: 0 });
    expect(requests).toBe(1);
    expect([await a.next(), await b.next()]).toEqual(["over batch", "over batch"]);
  });

  it("hears join, leave and broadcast after subscribe resolves, and nothing after disposal", async () => {
    const room = `cw-sub-${Date.now()}`;
    using api = connect(server.url);
    const heard = recorder();
    const subscription = await api.subscribe(room, heard.listener);
    const a = await join(room);
    await api.authenticate(TOKEN).broadcast("news", { room });
    a.ws.close(1000);
    await heard.until((e) => e.length >= 3, "join, broadcast, leave");
    expect(heard.events).toEqual([
      { type: "join", room, connections: 1 },
      { type: "broadcast", room, data: "news" },
      { type: "leave", room, connections: 0 },
    ]);
    subscription[Symbol.dispose]();
    await new Promise((r) => setTimeout(r, 200));
    await join(room);
    await new Promise((r) => setTimeout(r, 300));
    expect(heard.events).toHaveLength(3);
  });
});

describe("watchRoom", () => {
  it("restores the subscription after the server drops and comes back", async () => {
    const room = `cw-watch-${Date.now()}`;
    const heard = recorder();
    let lives = 0;
    const stop = watchRoom(server.url, room, heard.listener, { retryMs: 200, onLive: () => lives++ });
    try {
      await within(
        (async () => {
          while (lives < 1) await new Promise((r) => setTimeout(r, 50));
        })(),
        "first subscription",
        10_000,
      );
      await join(room);
      await heard.until((e) => e.some((x) => x.type === "join"), "a join before the drop");

      // Drop every session: stop the server, then start a new one on the same port.
      const port = server.port;
      for (const c of clients.splice(0)) c.ws.terminate();
      await server.stop();
      server = await startDev({ vars: { ADMIN_TOKEN: TOKEN }, port });

      await within(
        (async () => {
          while (lives < 2) await new Promise((r) => setTimeout(r, 50));
        })(),
        "resubscription",
        20_000,
      );
      const before = heard.events.length;
      await join(room);
      await heard.until((e) => e.length > before && e.at(-1)?.type === "join", "a join after the reconnect");
      expect(heard.events.at(-1)).toEqual({ type: "join", room, connections: 1 });
    } finally {
      stop();
    }
  });
});
