/** The capnweb endpoint inside workerd: sessions, auth, pipelining, subscriptions. */

import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RoomEvent } from "../../rpc/api";
import { errorCode } from "../../rpc/errors";
import { batchSession, wsSession } from "./rpc-clients";
import { connect, eventually, uniqueRoom, withTimeout } from "./sockets";

const TOKEN = "test-admin-token";

/** Open event streams the room holds for subscribers. */
const subscribers = (room: string) =>
  runInDurableObject(
    env.ROOM.getByName(room),
    (_instance, state) => state.getWebSockets("subscriber").filter((ws) => ws.readyState === WebSocket.OPEN).length,
  );

async function refusal(promise: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: errorCode(error), message: (error as Error).message };
  }
  throw new Error("the call was not refused");
}

/** The type of a capnweb protocol message: its first element. */
const kind = (frame: unknown) => (JSON.parse(String(frame)) as [string])[0];

/** Collects a listener's events; `next()` waits for the next one, with a timeout. */
function recorder() {
  const events: RoomEvent[] = [];
  const waiters: (() => void)[] = [];
  return {
    listener: (event: RoomEvent) => {
      events.push(event);
      waiters.shift()?.();
    },
    events,
    async until(n: number) {
      while (events.length < n) await withTimeout(new Promise<void>((r) => waiters.push(r)), `event #${n}`);
      return events.slice(0, n);
    },
  };
}

describe("capnweb over WebSocket", () => {
  it("counts connections of a room and of the default room", async () => {
    const room = uniqueRoom("cw-count");
    await connect(`/rooms/${room}/websocket`);
    const { api } = await wsSession();
    expect(await api.getConnectionCount(room)).toBe(1);
    expect(typeof (await api.getConnectionCount())).toBe("number");
  });

  it("refuses changes without authentication, and with a wrong token", async () => {
    const { api } = await wsSession();
    const anonymous = api as unknown as { broadcast(m: string): Promise<unknown> };
    expect(await refusal(anonymous.broadcast("hi"))).toEqual({
      code: "unauthenticated",
      message:
        "[unauthenticated] broadcast() needs authentication: call authenticate(token) and use the API it returns",
    });
    expect(await refusal(api.authenticate("wrong"))).toEqual({ code: "forbidden", message: "[forbidden] wrong token" });
  });

  it("pipelines authenticate(token).broadcast() to real sockets", async () => {
    const room = uniqueRoom("cw-pipe");
    const s = await connect(`/rooms/${room}/websocket`);
    const { api } = await wsSession();
    expect(await api.authenticate(TOKEN).broadcast("hi", { room })).toEqual({ delivered: 1, failed: 0, excluded: 0 });
    expect(await s.next()).toBe("hi");
    expect(await api.authenticate(TOKEN).room(room).getConnectionCount()).toBe(1);
  });

  it("sends authenticate and broadcast together, before any answer: one round trip", async () => {
    const room = uniqueRoom("cw-rtt");
    const { api, ws } = await wsSession();
    const log: string[] = [];
    const send = ws.send.bind(ws);
    ws.send = (message) => {
      log.push(`sent ${kind(message)}`);
      send(message);
    };
    ws.addEventListener("message", (event) => log.push(`received ${kind(event.data)}`));
    const report = await api.authenticate(TOKEN).broadcast("once", { room });
    expect(report).toEqual({ delivered: 0, failed: 0, excluded: 0 });
    // Both calls (two pushes) and the pull of the result leave before anything comes back,
    // and the one frame back is the result; only releases of the stubs follow.
    const firstAnswer = log.findIndex((entry) => entry.startsWith("received"));
    expect(log.slice(0, firstAnswer).filter((entry) => entry !== "sent release")).toEqual([
      "sent push",
      "sent push",
      "sent pull",
    ]);
    expect(log.filter((entry) => entry.startsWith("received"))).toEqual(["received resolve"]);
  });

  it("delivers join, leave and broadcast to a subscriber, and stops after disposal", async () => {
    const room = uniqueRoom("cw-sub");
    const { api } = await wsSession();
    const heard = recorder();
    const subscription = await api.subscribe(room, heard.listener);
    const a = await connect(`/rooms/${room}/websocket`);
    await api.authenticate(TOKEN).broadcast("news", { room });
    a.ws.close(1000);
    expect(await heard.until(3)).toEqual([
      { type: "join", room, connections: 1 },
      { type: "broadcast", room, data: "news" },
      { type: "leave", room, connections: 0 },
    ]);
    expect(await subscribers(room)).toBe(1);
    subscription[Symbol.dispose]();
    await eventually(async () => (await subscribers(room)) === 0, "the room has no subscriber left");
    await connect(`/rooms/${room}/websocket`);
    await new Promise((r) => setTimeout(r, 100));
    expect(heard.events).toHaveLength(3);
  });

  it("ends a session's subscriptions when its socket closes", async () => {
    const room = uniqueRoom("cw-end");
    const { api, ws } = await wsSession();
    await api.subscribe(room, () => {});
    await api.subscribe(room, () => {});
    expect(await subscribers(room)).toBe(2);
    ws.close(1000, "done");
    await eventually(async () => (await subscribers(room)) === 0, "the room has no subscriber left");
  });

  it("keeps delivering events after the room is evicted and woken", async () => {
    const room = uniqueRoom("cw-evict");
    const { api } = await wsSession();
    const heard = recorder();
    await api.subscribe(room, heard.listener);
    await connect(`/rooms/${room}/websocket`);
    await heard.until(1);
    await evictDurableObject(env.ROOM.getByName(room), { webSockets: "hibernate" });
    await connect(`/rooms/${room}/websocket`);
    expect((await heard.until(2))[1]).toEqual({ type: "join", room, connections: 2 });
  });

  it("delivers a broadcast of bytes as bytes", async () => {
    const room = uniqueRoom("cw-bytes");
    const { api } = await wsSession();
    const heard = recorder();
    await api.subscribe(room, heard.listener);
    await api.authenticate(TOKEN).broadcast(new Uint8Array([5, 6]), { room });
    const [event] = await heard.until(1);
    expect(event?.type).toBe("broadcast");
    expect([...(event as { data: Uint8Array }).data]).toEqual([5, 6]);
  });
});

describe("capnweb over HTTP batch", () => {
  it("pipelines authenticate(token).broadcast() in one request", async () => {
    const room = uniqueRoom("cw-batch");
    const s = await connect(`/rooms/${room}/websocket`);
    const { api, requests } = batchSession();
    const count = api.getConnectionCount(room);
    const report = api.authenticate(TOKEN).broadcast("batched", { room });
    expect(await Promise.all([count, report])).toEqual([1, { delivered: 1, failed: 0, excluded: 0 }]);
    expect(requests()).toBe(1);
    expect(await s.next()).toBe("batched");
  });

  it("refuses a wrong token in a batch with a typed error", async () => {
    const { api } = batchSession();
    expect((await refusal(api.authenticate("nope").getConnectionCount())).code).toBe("forbidden");
  });
});
