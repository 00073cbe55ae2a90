import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Room } from "../../src/room";
import { connect, eventually, uniqueRoom } from "./sockets";

const line = (n: number) => `[Durable Object] currentlyConnectedWebSockets: ${n}`;
const stub = (room: string) => env.ROOM.getByName(room);
const count = (room: string) => stub(room).getConnectionCount();

describe("the seed-compatible reply", () => {
  it("answers every message with the exact line, counting the sender", async () => {
    const room = uniqueRoom("seed");
    const a = await connect(`/rooms/${room}/websocket`);
    expect(await a.ask("hello")).toBe(line(1));
    const b = await connect(`/rooms/${room}/websocket`);
    const c = await connect(`/rooms/${room}/websocket`);
    expect(await c.ask("x")).toBe(line(3));
    expect(await a.ask(new Uint8Array([1, 2, 3]))).toBe(line(3));
    b.ws.close(1000);
    await eventually(async () => (await count(room)) === 2, "b is gone");
    expect(await a.ask("again")).toBe(line(2));
  });

  it("serves /websocket from the default room", async () => {
    const before = await count("default");
    const a = await connect("/websocket");
    expect(await a.ask("hi")).toBe(line(before + 1));
    expect(await count("default")).toBe(before + 1);
    a.ws.close(1000);
  });

  it("keeps rooms apart", async () => {
    const [r1, r2] = [uniqueRoom("iso"), uniqueRoom("iso")];
    const a = await connect(`/rooms/${r1}/websocket`);
    await connect(`/rooms/${r1}/websocket`);
    const b = await connect(`/rooms/${r2}/websocket`);
    expect(await a.ask("m")).toBe(line(2));
    expect(await b.ask("m")).toBe(line(1));
  });
});

describe("reply formats", () => {
  it("echoes text as text and binary as binary with format=echo", async () => {
    const s = await connect(`/rooms/${uniqueRoom("echo")}/websocket?format=echo`);
    expect(await s.ask("héllo")).toBe("héllo");
    const reply = await s.ask(new Uint8Array([0, 255, 7]));
    expect(reply).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(reply as ArrayBuffer)]).toEqual([0, 255, 7]);
  });

  it("answers JSON with the count and the text, or base64 of bytes, with format=json", async () => {
    const room = uniqueRoom("json");
    await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket?format=json`);
    expect(JSON.parse((await s.ask('say "hi"')) as string)).toEqual({ connections: 2, echo: 'say "hi"' });
    expect(JSON.parse((await s.ask(new Uint8Array([1, 2, 3]))) as string)).toEqual({
      connections: 2,
      echoBase64: "AQID",
    });
  });

  it("lets sockets of one room choose different formats", async () => {
    const room = uniqueRoom("mixed");
    const seed = await connect(`/rooms/${room}/websocket?format=seed`);
    const echo = await connect(`/rooms/${room}/websocket?format=echo`);
    expect(await seed.ask("a")).toBe(line(2));
    expect(await echo.ask("a")).toBe("a");
  });
});

describe("hibernation", () => {
  it("counts sockets and keeps their ids and connect times after eviction", async () => {
    const room = uniqueRoom("evict");
    const a = await connect(`/rooms/${room}/websocket`);
    const b = await connect(`/rooms/${room}/websocket?format=json`);
    const before = await stub(room).listConnections();
    expect(before).toHaveLength(2);

    await evictDurableObject(stub(room), { webSockets: "hibernate" });

    expect(await a.ask("after")).toBe(line(2));
    expect(JSON.parse((await b.ask("x")) as string)).toEqual({ connections: 2, echo: "x" });
    const after = await stub(room).listConnections();
    const byId = (list: typeof before) => [...list].sort((x, y) => x.id.localeCompare(y.id));
    expect(byId(after)).toEqual(byId(before));
    expect(after.map((c) => c.metadata.format).sort()).toEqual(["json", "seed"]);
  });

  it("answers ping with pong without waking the object", async () => {
    const room = uniqueRoom("ping");
    const s = await connect(`/rooms/${room}/websocket`);
    expect(await s.ask("ping")).toBe("pong");
    const answered = await runInDurableObject(stub(room), (_: Room, state) =>
      state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws) !== null),
    );
    expect(answered).toEqual([true]);
  });
});

describe("closing", () => {
  it("completes the close with the client's code and drops the count", async () => {
    const room = uniqueRoom("close");
    await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    s.ws.close(4000, "done");
    expect(await s.closed).toEqual({ code: 4000, reason: "done" });
    await eventually(async () => (await count(room)) === 1, "count is 1");
  });

  it("answers a close without a code (1005) with 1000, without throwing", async () => {
    const room = uniqueRoom("nocode");
    const other = await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    s.ws.close();
    expect((await s.closed).code).toBe(1000);
    await eventually(async () => (await count(room)) === 1, "count is 1");
    expect(await other.ask("still here")).toBe(line(1));
  });

  it("removes a socket after an error and closes it with 1011", async () => {
    const room = uniqueRoom("error");
    const other = await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    const [id] = (await stub(room).listConnections()).map((c) => c.id).slice(-1);
    await runInDurableObject(stub(room), async (instance: Room, state) => {
      const [ws] = state.getWebSockets(`id:${id}`);
      if (ws === undefined) throw new Error("socket not found");
      await instance.webSocketError(ws, new Error("simulated stream error"));
    });
    expect(await s.closed).toEqual({ code: 1011, reason: "WebSocket error" });
    expect(await count(room)).toBe(1);
    expect(await other.ask("ok")).toBe(line(1));
  });

  it("stops counting a socket as soon as the server starts closing it", async () => {
    const room = uniqueRoom("closing");
    await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    const ids = (await stub(room).listConnections()).map((c) => c.id);
    const counted = await runInDurableObject(stub(room), async (instance: Room, state) => {
      const [ws] = state.getWebSockets(`id:${ids[1]}`);
      await instance.disconnect(ids[1] ?? "", 1000, "bye");
      return { state: ws?.readyState, count: await instance.getConnectionCount() };
    });
    expect(counted).toEqual({ state: WebSocket.CLOSING, count: 1 });
    expect((await s.closed).code).toBe(1000);
  });
});

describe("limits", () => {
  it("closes a socket that sends more than MAX_MESSAGE_BYTES with 1009 and a reason", async () => {
    const room = uniqueRoom("big");
    const other = await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    expect(await s.ask("x".repeat(4096))).toBe(line(2));
    s.ws.send("é".repeat(2049)); // 4098 UTF-8 bytes, 2049 characters
    expect(await s.closed).toEqual({ code: 1009, reason: "Message of 4098 bytes is over the limit of 4096 bytes" });
    expect(await other.ask("ok")).toBe(line(1));
  });

  it("closes a socket that floods past its rate with 1008, leaving others alone", async () => {
    const room = uniqueRoom("rate");
    const other = await connect(`/rooms/${room}/websocket`);
    const s = await connect(`/rooms/${room}/websocket`);
    for (let i = 0; i < 40; i++) s.ws.send(`m${i}`);
    expect(await s.closed).toEqual({ code: 1008, reason: "Rate limit: over 20 messages per second (burst 30)" });
    expect(await other.ask("ok")).toBe(line(1));
  });

  it("refuses an upgrade past MAX_CONNECTIONS_PER_ROOM with 503 and Retry-After", async () => {
    const room = uniqueRoom("full");
    for (let i = 0; i < 20; i++) await connect(`/rooms/${room}/websocket`);
    const { exports } = await import("cloudflare:workers");
    const response = await exports.default.fetch(`http://example.com/rooms/${room}/websocket`, {
      headers: { Upgrade: "websocket" },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(await response.text()).toBe(
      "Room is full: 20 connections, the limit (MAX_CONNECTIONS_PER_ROOM). Try again later.",
    );
  });
});
