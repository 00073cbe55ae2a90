/**
 * One suite, three transports: the same calls give the same results through the service
 * binding (RoomService), capnweb over WebSocket and capnweb over HTTP batch (the last two
 * through `authenticate(token)`).
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { BroadcastReport, ConnectionInfo, Message } from "../../rpc/api";
import { errorCode } from "../../rpc/errors";
import { batchSession, wsSession } from "./rpc-clients";
import { connect, eventually, uniqueRoom } from "./sockets";

/** The calls the suite makes, as every transport's stub answers them. */
interface Conformant {
  getConnectionCount(room?: string): PromiseLike<number>;
  broadcast(message: Message, options?: { room?: string; except?: string[] }): PromiseLike<BroadcastReport>;
  listConnections(room?: string): PromiseLike<ConnectionInfo[]>;
  send(id: string, message: Message, room?: string): PromiseLike<boolean>;
  disconnect(id: string, code?: number, reason?: string, room?: string): PromiseLike<boolean>;
  room(name: string): {
    getConnectionCount(): PromiseLike<number>;
    broadcast(m: Message): PromiseLike<BroadcastReport>;
  };
}

const TOKEN = "test-admin-token";
/**
 * Each transport gives a function returning the API; it is called once per call below, never
 * awaited itself (awaiting a capnweb stub would resolve it, costing a round trip).
 */
const transports: [string, () => Promise<() => Conformant>][] = [
  ["service binding", async () => () => exports.RoomService as unknown as Conformant],
  [
    "capnweb WebSocket",
    async () => {
      const { api } = await wsSession();
      return () => api.authenticate(TOKEN) as unknown as Conformant;
    },
  ],
  // A batch stub serves one batch: each call gets a fresh session, in one request.
  ["capnweb HTTP batch", async () => () => batchSession().api.authenticate(TOKEN) as unknown as Conformant],
];

async function codeOf(call: () => PromiseLike<unknown>): Promise<string | undefined> {
  try {
    await call();
  } catch (error) {
    return errorCode(error);
  }
  return "no error";
}

/** Messages a socket receives up to and including `last`. */
async function until(socket: { next(): Promise<unknown> }, last: string): Promise<unknown[]> {
  const heard: unknown[] = [];
  while (heard.at(-1) !== last) heard.push(await socket.next());
  return heard;
}

describe.each(transports)("the rooms API over %s", (_name, setup) => {
  let rooms: () => Conformant;
  beforeAll(async () => {
    rooms = await setup();
  });

  it("counts open sockets, per room and in the default room", async () => {
    const room = uniqueRoom("conf-count");
    await connect(`/rooms/${room}/websocket`);
    await connect(`/rooms/${room}/websocket`);
    expect(await rooms().getConnectionCount(room)).toBe(2);
    expect(await rooms().room(room).getConnectionCount()).toBe(2);
    expect(typeof (await rooms().getConnectionCount())).toBe("number");
  });

  it("broadcasts with a report and honours except", async () => {
    const room = uniqueRoom("conf-bcast");
    const a = await connect(`/rooms/${room}/websocket`);
    const b = await connect(`/rooms/${room}/websocket`);
    const [first] = await rooms().listConnections(room);
    expect(await rooms().broadcast("one", { room, except: [first?.id ?? ""] })).toEqual({
      delivered: 1,
      failed: 0,
      excluded: 1,
    });
    expect(await rooms().room(room).broadcast("two")).toEqual({ delivered: 2, failed: 0, excluded: 0 });
    const heard = [...(await until(a, "two")), ...(await until(b, "two"))];
    expect(heard.sort()).toEqual(["one", "two", "two"]);
  });

  it("lists, sends to and disconnects one connection", async () => {
    const room = uniqueRoom("conf-one");
    const s = await connect(`/rooms/${room}/websocket?format=echo`);
    const list = await rooms().listConnections(room);
    expect(list).toHaveLength(1);
    expect(list[0]?.metadata).toEqual({ format: "echo", origin: null });
    expect(Math.abs((list[0]?.connectedAt ?? 0) - Date.now())).toBeLessThan(60_000);
    const id = list[0]?.id ?? "";
    expect(await rooms().send(id, "direct", room)).toBe(true);
    expect(await s.next()).toBe("direct");
    expect(await rooms().disconnect(id, 4001, "bye", room)).toBe(true);
    expect(await s.closed).toEqual({ code: 4001, reason: "bye" });
    await eventually(async () => (await rooms().getConnectionCount(room)) === 0, "room is empty");
    expect(await rooms().send(id, "gone", room)).toBe(false);
  });

  it("refuses bad input with the same typed errors", async () => {
    expect(await codeOf(async () => rooms().getConnectionCount("bad name"))).toBe("invalid_room");
    expect(await codeOf(async () => rooms().broadcast("x".repeat(4097)))).toBe("too_large");
    expect(await codeOf(async () => rooms().send("id", new Uint8Array(4097)))).toBe("too_large");
    expect(await codeOf(async () => rooms().disconnect("id", 1006))).toBe("invalid_argument");
    expect(await codeOf(async () => rooms().room("bad name").getConnectionCount())).toBe("invalid_room");
  });
});
