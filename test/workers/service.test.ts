/**
 * The service-binding facade, called the way other Workers call it: through the example
 * caller (an auxiliary Worker with a real binding to RoomService) and through the named
 * entrypoint on `exports`.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { errorCode } from "../../rpc/errors";
import { connect, eventually, uniqueRoom } from "./sockets";

const rooms = exports.RoomService;
const caller = (path: string, init?: RequestInit) => env.CALLER.fetch(`http://caller${path}`, init);

describe("RoomService through a service binding", () => {
  it("counts the open sockets of a room", async () => {
    const room = uniqueRoom("svc-count");
    expect(await rooms.getConnectionCount(room)).toBe(0);
    const a = await connect(`/rooms/${room}/websocket`);
    await connect(`/rooms/${room}/websocket`);
    expect(await rooms.getConnectionCount(room)).toBe(2);
    a.ws.close(1000);
    await a.closed;
    await eventually(async () => (await rooms.getConnectionCount(room)) === 1, "count is 1");
  });

  it("means the default room of /websocket when the room is left out", async () => {
    const before = await rooms.getConnectionCount();
    const s = await connect("/websocket");
    expect(await rooms.getConnectionCount()).toBe(before + 1);
    expect(await rooms.getConnectionCount("default")).toBe(before + 1);
    s.ws.close(1000);
  });

  it("broadcasts text as text and bytes as bytes to every socket, honouring except", async () => {
    const room = uniqueRoom("svc-bcast");
    const sockets = await Promise.all([0, 1, 2].map(() => connect(`/rooms/${room}/websocket`)));
    const list = await rooms.listConnections(room);
    expect(list).toHaveLength(3);
    const skipped = list[0]?.id ?? "";

    const report = await rooms.broadcast("hello all", { room, except: [skipped] });
    expect(report).toEqual({ delivered: 2, failed: 0, excluded: 1 });

    const bytes = await rooms.broadcast(new Uint8Array([1, 2, 3]), { room });
    expect(bytes).toEqual({ delivered: 3, failed: 0, excluded: 0 });

    // Which socket has which id: ask the room for the order of connection.
    const byConnect = [...list].sort((x, y) => x.connectedAt - y.connectedAt);
    for (const [i, s] of sockets.entries()) {
      const first = await s.next();
      if (byConnect[i]?.id === skipped) {
        expect(first).toBeInstanceOf(ArrayBuffer);
      } else {
        expect(first).toBe("hello all");
        expect([...new Uint8Array((await s.next()) as ArrayBuffer)]).toEqual([1, 2, 3]);
      }
    }
  });

  it("pipelines room(name).broadcast() in one call", async () => {
    const room = uniqueRoom("svc-pipe");
    const s = await connect(`/rooms/${room}/websocket`);
    const report = await rooms.room(room).broadcast("piped");
    expect(report).toEqual({ delivered: 1, failed: 0, excluded: 0 });
    expect(await s.next()).toBe("piped");
    expect(await rooms.room(room).getConnectionCount()).toBe(1);
  });

  it("sends to one connection and disconnects it, saying whether it was there", async () => {
    const room = uniqueRoom("svc-one");
    const s = await connect(`/rooms/${room}/websocket`);
    const other = await connect(`/rooms/${room}/websocket`);
    const [first] = await rooms.listConnections(room);
    const id = first?.id ?? "";
    expect(first?.metadata).toEqual({ format: "seed", origin: null });
    expect(await rooms.send(id, "just you", room)).toBe(true);
    expect(await s.next()).toBe("just you");
    expect(await rooms.send("no-such-id", "x", room)).toBe(false);

    expect(await rooms.disconnect(id, 4000, "kicked", room)).toBe(true);
    expect(await s.closed).toEqual({ code: 4000, reason: "kicked" });
    expect(await rooms.getConnectionCount(room)).toBe(1);
    expect(await rooms.disconnect(id, 4000, "again", room)).toBe(false);
    expect(await other.ask("still here")).toBe("[Durable Object] currentlyConnectedWebSockets: 1");
  });

  it("does not count a closed socket as delivered", async () => {
    const room = uniqueRoom("svc-closed");
    const a = await connect(`/rooms/${room}/websocket`);
    await connect(`/rooms/${room}/websocket`);
    a.ws.close(1000);
    await a.closed;
    const report = await rooms.broadcast("after close", { room });
    expect(report).toEqual({ delivered: 1, failed: 0, excluded: 0 });
  });
});

describe("RoomService refuses bad arguments with typed errors", () => {
  const refused = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      return { code: errorCode(error), message: (error as Error).message };
    }
    throw new Error("the call was not refused");
  };

  it("refuses bad room names with invalid_room", async () => {
    for (const bad of ["", "a b", "x".repeat(65), "../etc"]) {
      expect(await refused(() => rooms.getConnectionCount(bad))).toEqual({
        code: "invalid_room",
        message: "[invalid_room] room must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
      });
    }
    expect((await refused(() => rooms.room("no way").broadcast("x"))).code).toBe("invalid_room");
  });

  it("refuses a message over MAX_MESSAGE_BYTES with too_large", async () => {
    expect(await refused(() => rooms.broadcast("x".repeat(4097)))).toEqual({
      code: "too_large",
      message: "[too_large] message of 4097 bytes is over the limit of 4096 bytes (MAX_MESSAGE_BYTES)",
    });
    expect((await refused(() => rooms.send("id", new Uint8Array(5000)))).code).toBe("too_large");
  });

  it("refuses wrong types with invalid_argument", async () => {
    const untyped = rooms as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const cases: [string, unknown[], string][] = [
      ["broadcast", [42], "message must be a string, an ArrayBuffer or a Uint8Array"],
      ["broadcast", ["x", "lobby"], "options must be an object with only room and except"],
      ["broadcast", ["x", { except: "id" }], "except must be an array of connection ids"],
      ["broadcast", ["x", { rooms: "a" }], "options must be an object with only room and except"],
      ["send", [7, "x"], "connection id must be a string"],
      ["disconnect", ["id", 1005], "code must be 1000 or 3000-4999"],
      ["disconnect", ["id", 4000, "r".repeat(124)], "reason must be at most 123 UTF-8 bytes"],
    ];
    for (const [method, args, message] of cases) {
      expect(await refused(() => untyped[method]!(...args))).toEqual({
        code: "invalid_argument",
        message: `[invalid_argument] ${message}`,
      });
    }
  });
});

describe("the example caller Worker", () => {
  it("answers GET /count with the room and its connections", async () => {
    const room = uniqueRoom("caller");
    await connect(`/rooms/${room}/websocket`);
    const response = await caller(`/count?room=${room}`);
    expect(await response.json()).toEqual({ room, connections: 1 });
  });

  it("broadcasts the body of POST /broadcast", async () => {
    const room = uniqueRoom("caller-b");
    const s = await connect(`/rooms/${room}/websocket`);
    const response = await caller(`/broadcast?room=${room}`, { method: "POST", body: "from a Worker" });
    expect(await response.json()).toEqual({ delivered: 1 });
    expect(await s.next()).toBe("from a Worker");
  });

  it("answers 400 with the typed error for a bad room", async () => {
    const response = await caller("/count?room=bad%20room");
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "invalid_room",
      message: "[invalid_room] room must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
    });
  });

  it("forwards /websocket to the server through the binding", async () => {
    const room = uniqueRoom("caller-ws");
    const response = await caller(`/rooms/${room}/websocket`, { headers: { Upgrade: "websocket" } });
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    ws.accept();
    const reply = new Promise((resolve) => ws.addEventListener("message", (e) => resolve(e.data)));
    ws.send("hi");
    expect(await reply).toBe("[Durable Object] currentlyConnectedWebSockets: 1");
    expect((await caller("/nope")).status).toBe(400);
  });
});
