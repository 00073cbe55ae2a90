/**
 * Hostile clients end to end: one `wrangler dev` with small limits, raw TCP (test/support/
 * raw-ws.ts) for what no WebSocket library would send, and `ws` for well-behaved bystanders.
 * Every case asserts what the hostile client saw AND that the room's other socket still works
 * and counts right afterwards. Where workerd answers (protocol errors), the test pins what it
 * does; where it misses something RFC 6455 asks for, the test says "workerd gap" and pins
 * the current behaviour, so that a runtime upgrade that changes it shows up here.
 */
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Bystander, eventually, logLines } from "../support/raw-room";
import { closePayload, deflateMessage, type Frame, Opcode, RawSocket, sleep } from "../support/raw-ws";
import { type DevServer, startDev } from "../support/wrangler-dev";
import { type Client, openClient } from "../support/ws-client";

const MAX_MESSAGE_BYTES = 8192;
const MAX_CONNECTIONS_PER_ROOM = 40;
const GOOD_ORIGIN = "https://good.example";
const EVIL_ORIGIN = "https://evil.example";
/** Offer that keeps each compressed message independent, so tests can inflate replies alone. */
const DEFLATE_OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";
const RATE_LIMIT_REASON = "Rate limit: over 50 messages per second (burst 100)";

let server: DevServer;
const stamp = Date.now().toString(36);
let rooms = 0;
/** Everything a test opened; closed after each test so that no case leaks into the next. */
const raws: RawSocket[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  server = await startDev({
    vars: {
      MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      MAX_MESSAGES_PER_SECOND: "50",
      MESSAGE_BURST: "100",
      MAX_CONNECTIONS_PER_ROOM: String(MAX_CONNECTIONS_PER_ROOM),
      ALLOWED_ORIGINS: GOOD_ORIGIN,
    },
  });
});
afterEach(() => {
  for (const raw of raws.splice(0)) raw.destroy();
  for (const client of clients.splice(0)) client.ws.terminate();
});
afterAll(async () => {
  await server?.stop();
});

interface Room {
  name: string;
  /** `/rooms/<name>/websocket` */
  path: string;
  bystander: Bystander;
}

/** A fresh room with its bystander, which counts 1 before anything else happens. */
async function room(label: string): Promise<Room> {
  const name = `h-${label}-${stamp}-${rooms++}`;
  const path = `/rooms/${name}/websocket`;
  const bystander = await Bystander.join(server.wsUrl + path);
  clients.push(bystander.client);
  return { name, path, bystander };
}

function track(raw: RawSocket): RawSocket {
  raws.push(raw);
  return raw;
}

/** Sends an upgrade request as written (defaults: a valid one) and returns the connection. */
async function handshake(path: string, headers?: Record<string, string | null>): Promise<RawSocket> {
  return track(await RawSocket.handshake(server.port, { path, headers }));
}

/** A raw socket that the server upgraded (101). */
async function upgraded(path: string, headers?: Record<string, string | null>): Promise<RawSocket> {
  const raw = await handshake(path, headers);
  expect(raw.head.status, `upgrade of ${path}`).toBe(101);
  return raw;
}

/** Answers the server's close like a well-behaved client, then expects TCP to end. */
async function finishClose(raw: RawSocket, frame: Frame): Promise<void> {
  raw.send({ opcode: Opcode.close, payload: frame.payload.subarray(0, 2) });
  expect(await raw.tcpEnded(), "the server ends TCP once the close handshake is complete").toBe(true);
}

/** The Worker's log lines of one room, once `count` of them match `event`. */
async function roomLog(name: string, event: string, count = 1) {
  await eventually(
    () => logLines(server.log(), name).filter((l) => l.event === event).length >= count,
    `${count} "${event}" log line(s) of room ${name}`,
  );
  return logLines(server.log(), name);
}

const text = (payload: string | Buffer, more: { fin?: boolean; rsv?: number; mask?: boolean } = {}) => ({
  opcode: Opcode.text,
  payload,
  ...more,
});
const continuation = (payload: string, fin = true) => ({ opcode: Opcode.continuation, payload, fin });

describe("upgrade requests", () => {
  it("answers 400 to an upgrade without Sec-WebSocket-Key (workerd)", async () => {
    const r = await room("nokey");
    const raw = await handshake(r.path, { "Sec-WebSocket-Key": null });
    expect(raw.head.status).toBe(400);
    expect(await raw.body()).toBe("ERROR: Missing Sec-WebSocket-Key");
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("accepts a Sec-WebSocket-Key that is not 16 base64 bytes (workerd gap)", async () => {
    // RFC 6455 4.2.1 asks for a key that decodes to 16 bytes; workerd upgrades anyway.
    const r = await room("badkey");
    const raw = await upgraded(r.path, { "Sec-WebSocket-Key": "not base64!" });
    // It even answers the accept hash of that key (RFC 6455 4.2.2).
    const accept = createHash("sha1").update("not base64!258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    expect(raw.head.headers["sec-websocket-accept"]).toBe(accept);
    raw.sendText("hi");
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    raw.destroy();
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("answers 426 with Sec-WebSocket-Version: 13 to version 8 and to no version (workerd)", async () => {
    const r = await room("version");
    for (const version of ["8", null]) {
      const raw = await handshake(r.path, { "Sec-WebSocket-Version": version });
      expect(raw.head.status).toBe(426);
      expect(raw.head.headers["sec-websocket-version"]).toBe("13");
      expect(await raw.body()).toBe("ERROR: The requested WebSocket version is not supported.");
    }
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("upgrades without `Connection: Upgrade` (workerd gap)", async () => {
    // RFC 6455 4.2.1 requires the Connection header; workerd goes by Upgrade alone.
    const r = await room("noconn");
    const raw = await upgraded(r.path, { Connection: null });
    raw.sendText("hi");
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    expect(await r.bystander.count()).toBe(2);
  });

  it("answers 431 to a 1 MB request head and upgrades one with 500 headers (workerd)", async () => {
    const r = await room("headers");
    const huge = await handshake(r.path, { "X-Big": "a".repeat(1_000_000) });
    expect(huge.head.status).toBe(431);
    expect(await huge.body()).toBe("message head is too large");
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-Header-${i}`, "v".repeat(100)]));
    const raw = await upgraded(r.path, many);
    raw.sendText("hi");
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    raw.destroy();
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("upgrades a request sent one byte at a time while the room keeps answering (slowloris)", async () => {
    const r = await room("slow");
    const raw = track(await RawSocket.open(server.port));
    const t0 = Date.now();
    const slow = raw.request({ path: r.path, slowMs: 12 }, 20_000);
    // While the head trickles in (about 2.5 s), the room answers its bystander at once.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const asked = Date.now();
      expect(await r.bystander.count()).toBe(1);
      waits.push(Date.now() - asked);
      await sleep(300);
    }
    expect((await slow).status).toBe(101);
    expect(Date.now() - t0).toBeGreaterThan(1_500);
    expect(Math.max(...waits)).toBeLessThan(2_000);
    raw.sendText("hi");
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
  });

  it("serves clients beside 200 half-open connections and drops those after workerd's 15 s head timeout", async () => {
    const r = await room("halfopen");
    const half: RawSocket[] = [];
    for (let i = 0; i < 200; i++) {
      const raw = track(await RawSocket.open(server.port));
      // Half send nothing at all; half start a request head and never finish it.
      if (i % 2 === 1) raw.socket.write(`GET ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
      half.push(raw);
    }
    const client = await openClient(server.wsUrl + r.path);
    clients.push(client);
    expect(await client.ask("hi")).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    expect(await r.bystander.count()).toBe(2);
    expect(half.filter((h) => h.ended)).toHaveLength(0);
    // workerd closes a connection whose request head is not complete 15 s after it opened.
    await eventually(() => half.every((h) => h.ended), "workerd to drop the half-open connections", 30_000);
    expect(await client.ask("still here")).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
  }, 60_000);
});

describe("origins (ALLOWED_ORIGINS)", () => {
  it.each([
    ["/websocket", "WebSocket"],
    ["/rooms/ROOM/websocket", "WebSocket"],
    ["/rpc", "WebSocket"],
  ])("answers 403 to a disallowed Origin on %s (%s) before the upgrade", async (template) => {
    const r = await room("origin");
    const path = template.replace("ROOM", r.name);
    const raw = await handshake(path, { Origin: EVIL_ORIGIN });
    expect(raw.head.status).toBe(403);
    expect(await raw.body()).toBe(`Origin ${EVIL_ORIGIN} is not allowed (ALLOWED_ORIGINS).`);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("answers 403 to a disallowed Origin on an HTTP batch POST to /rpc", async () => {
    const r = await room("origin-post");
    const response = await fetch(`${server.url}/rpc`, {
      method: "POST",
      headers: { Origin: EVIL_ORIGIN },
      body: '["push",["pipeline",0,["getConnectionCount"],[]]]\n["pull",1]',
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toBe(`Origin ${EVIL_ORIGIN} is not allowed (ALLOWED_ORIGINS).`);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("answers 403 to look-alike origins: `null`, a suffix, another scheme, another port", async () => {
    const r = await room("lookalike");
    for (const origin of ["null", `${GOOD_ORIGIN}.evil.example`, "http://good.example", `${GOOD_ORIGIN}:8443`]) {
      const raw = await handshake(r.path, { Origin: origin });
      expect(raw.head.status, origin).toBe(403);
      expect(await raw.body()).toBe(`Origin ${origin} is not allowed (ALLOWED_ORIGINS).`);
    }
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("upgrades the allowed origin and a client with no Origin", async () => {
    const r = await room("goodorigin");
    const good = await upgraded(r.path, { Origin: GOOD_ORIGIN });
    const none = await upgraded(r.path);
    good.sendText("hi");
    expect(await good.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 3");
    none.sendText("hi");
    expect(await none.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 3");
    expect(await r.bystander.count()).toBe(3);
  });
});

describe("limits answered by our code", () => {
  it("answers 503 with Retry-After and a text to the socket past MAX_CONNECTIONS_PER_ROOM", async () => {
    const r = await room("full");
    const members = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS_PER_ROOM - 1 }, () => openClient(server.wsUrl + r.path)),
    );
    clients.push(...members);
    expect(await r.bystander.count()).toBe(MAX_CONNECTIONS_PER_ROOM);
    const refused = await handshake(r.path);
    expect(refused.head.status).toBe(503);
    expect(refused.head.headers["retry-after"]).toBe("5");
    expect(await refused.body()).toBe(
      `Room is full: ${MAX_CONNECTIONS_PER_ROOM} connections, the limit (MAX_CONNECTIONS_PER_ROOM). Try again later.`,
    );
    // One leaves: the next one gets in, and the room is full again.
    members[0]?.ws.close(1000);
    expect(await r.bystander.settle(MAX_CONNECTIONS_PER_ROOM - 1)).toBe(MAX_CONNECTIONS_PER_ROOM - 1);
    const next = await upgraded(r.path);
    next.sendText("hi");
    expect(await next.nextText()).toBe(`[Durable Object] currentlyConnectedWebSockets: ${MAX_CONNECTIONS_PER_ROOM}`);
  });

  it("closes a socket past the rate limit with 1008 after its burst of replies", async () => {
    const r = await room("rate");
    const raw = await upgraded(r.path);
    // 300 in one write: even on a slow machine they arrive faster than 50 a second refill.
    raw.send(...Array.from({ length: 300 }, (_, i) => text(`m${i}`)));
    const { before, close, frame } = await raw.untilClose();
    expect(close).toEqual({ code: 1008, reason: RATE_LIMIT_REASON });
    // The burst (100) plus what refilled while the frames arrived, each one a reply line.
    expect(before.length).toBeGreaterThanOrEqual(100);
    expect(before.length).toBeLessThan(300);
    await finishClose(raw, frame);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes an oversized frame with 1009 and accepts one of exactly the limit", async () => {
    const r = await room("oversize");
    const exact = await upgraded(r.path);
    exact.sendText("a".repeat(MAX_MESSAGE_BYTES));
    expect(await exact.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    const raw = await upgraded(r.path);
    raw.sendText("a".repeat(MAX_MESSAGE_BYTES + 1));
    const { close, frame } = await raw.untilClose();
    expect(close).toEqual({
      code: 1009,
      reason: `Message of ${MAX_MESSAGE_BYTES + 1} bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes`,
    });
    await finishClose(raw, frame);
    expect(await r.bystander.settle(2)).toBe(2);
  });

  it("closes a fragmented message whose fragments add up to over the limit with 1009 naming the total", async () => {
    const r = await room("oversize-frag");
    const raw = await upgraded(r.path);
    raw.send(text("a".repeat(5000), { fin: false }), continuation("a".repeat(5000)));
    const { close, frame } = await raw.untilClose();
    expect(close).toEqual({
      code: 1009,
      reason: `Message of 10000 bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes`,
    });
    await finishClose(raw, frame);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes a frame that declares 2^62 bytes with workerd's 1009, and the room stops counting it", async () => {
    const r = await room("declared");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.text, payload: "a", declaredLength: 2n ** 62n });
    const { close } = await raw.untilClose();
    expect(close).toEqual({ code: 1009, reason: "Message is too large: 4611686018427387904 > 33554432" });
    expect(await r.bystander.settle(1)).toBe(1);
    // The runtime delivers webSocketError to the room, which logs it and stops counting the socket.
    const lines = await roomLog(r.name, "error");
    expect(lines.find((l) => l.event === "error")?.error).toContain("protocolError.statusCode = 1009");
  });
});

describe("compression (permessage-deflate)", () => {
  it("negotiates permessage-deflate (pinned: the runtime offers it although we would rather not)", async () => {
    const r = await room("deflate");
    const raw = await upgraded(`${r.path}?format=echo`, { "Sec-WebSocket-Extensions": DEFLATE_OFFER });
    expect(raw.head.headers["sec-websocket-extensions"]).toBe(DEFLATE_OFFER);
    raw.send(text(deflateMessage("hello, compressed"), { rsv: 0b100 }));
    const reply = await raw.nextFrame();
    expect(reply.rsv).toBe(0b100); // the runtime compresses its reply too
    expect(reply.payload.toString()).toBe("hello, compressed");
    expect(await r.bystander.count()).toBe(2);
  });

  it("closes a compressed message whose inflated size is over the limit with 1009 naming the inflated size", async () => {
    const r = await room("deflate-big");
    const raw = await upgraded(r.path, { "Sec-WebSocket-Extensions": DEFLATE_OFFER });
    const compressed = deflateMessage("a".repeat(100_000));
    expect(compressed.length).toBeLessThan(MAX_MESSAGE_BYTES); // small on the wire
    raw.send(text(compressed, { rsv: 0b100 }));
    const { close, frame } = await raw.untilClose();
    expect(close).toEqual({
      code: 1009,
      reason: `Message of 100000 bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes`,
    });
    await finishClose(raw, frame);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes a 40 MiB compression bomb with workerd's 1009 before the room sees it", async () => {
    const r = await room("bomb");
    const raw = await upgraded(r.path, { "Sec-WebSocket-Extensions": DEFLATE_OFFER });
    raw.send({ opcode: Opcode.binary, payload: deflateMessage(Buffer.alloc(40 * 1024 * 1024)), rsv: 0b100 });
    const { close } = await raw.untilClose(15_000);
    expect(close).toEqual({ code: 1009, reason: "Message is too large" });
    expect(await r.bystander.settle(1)).toBe(1);
    expect((await roomLog(r.name, "error")).some((l) => l.error?.includes("Message is too large"))).toBe(true);
  });
});

describe("frames that break RFC 6455", () => {
  it("accepts an unmasked client frame (workerd gap)", async () => {
    // RFC 6455 5.1: a server MUST close the connection on an unmasked client frame.
    const r = await room("unmasked");
    const raw = await upgraded(r.path);
    raw.send(text("hi", { mask: false }));
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    expect(await r.bystander.count()).toBe(2);
  });

  it.each([
    [0x3, "Unknown opcode 3"],
    [0x7, "Unknown opcode 7"],
    [0xb, "Unknown opcode 11"],
    [0xf, "Unknown opcode 15"],
  ])(
    "closes a frame with reserved opcode %i with workerd's 1002, and the room stops counting it",
    async (opcode, reason) => {
      const r = await room(`opcode${opcode}`);
      const raw = await upgraded(r.path);
      raw.send({ opcode, payload: "x" });
      expect((await raw.untilClose()).close).toEqual({ code: 1002, reason });
      expect(await r.bystander.settle(1)).toBe(1);
      const lines = await roomLog(r.name, "error");
      expect(lines.find((l) => l.event === "error")?.error).toContain(`protocolError.description = ${reason}`);
    },
  );

  it.each([
    [0b010, "RSV2"],
    [0b001, "RSV3"],
  ])("closes a frame with %s set with workerd's 1002", async (rsv) => {
    const r = await room("rsv");
    const raw = await upgraded(r.path);
    raw.send(text("x", { rsv }));
    expect((await raw.untilClose()).close).toEqual({ code: 1002, reason: "Received frame had RSV bits 2 or 3 set" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes RSV1 without negotiated compression with 1002, in a close frame over 125 bytes (workerd gap)", async () => {
    const r = await room("rsv1");
    const raw = await upgraded(r.path);
    raw.send(text("x", { rsv: 0b100 }));
    const { close, frame } = await raw.untilClose();
    expect(close.code).toBe(1002);
    expect(close.reason).toBe(
      "Received a WebSocket frame whose compression bit was set, but the compression extension was not negotiated for this connection.",
    );
    // RFC 6455 5.5: control frames carry at most 125 bytes; workerd sends 129 here.
    expect(frame.payload.length).toBe(129);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("accepts invalid UTF-8 in a text frame and hands the room U+FFFD (workerd gap: no 1007)", async () => {
    // RFC 6455 8.1: invalid UTF-8 in a text message MUST fail the connection (1007).
    const r = await room("utf8");
    const raw = await upgraded(`${r.path}?format=echo`);
    raw.send(text(Buffer.from([0x68, 0xff, 0xfe, 0x69])));
    expect(await raw.nextText()).toBe("h\ufffd\ufffdi");
    expect(await r.bystander.count()).toBe(2);
  });

  it("joins a valid fragmented message into one message", async () => {
    const r = await room("frag");
    const raw = await upgraded(`${r.path}?format=echo`);
    raw.send(text("ab", { fin: false }), continuation("cd", false), continuation("ef"));
    expect(await raw.nextText()).toBe("abcdef");
    expect(await r.bystander.count()).toBe(2);
  });

  it("answers a ping sent between fragments and then delivers the message", async () => {
    const r = await room("frag-ping");
    const raw = await upgraded(`${r.path}?format=echo`);
    raw.send(text("ab", { fin: false }), { opcode: Opcode.ping, payload: "P" }, continuation("ef"));
    const pong = await raw.nextFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([Opcode.pong, "P"]);
    expect(await raw.nextText()).toBe("abef");
    expect(await r.bystander.count()).toBe(2);
  });

  it("closes a continuation frame with no message to continue with workerd's 1002", async () => {
    const r = await room("cont");
    const raw = await upgraded(r.path);
    raw.send(continuation("ab"));
    expect((await raw.untilClose()).close).toEqual({ code: 1002, reason: "Unexpected continuation frame" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes a new text frame inside a fragmented message with workerd's 1002", async () => {
    const r = await room("interleave");
    const raw = await upgraded(r.path);
    raw.send(text("ab", { fin: false }), text("cd"));
    expect((await raw.untilClose()).close).toEqual({ code: 1002, reason: "Missing continuation frame" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("closes a fragmented ping with workerd's 1002", async () => {
    const r = await room("ping-frag");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.ping, payload: "x", fin: false });
    expect((await raw.untilClose()).close).toEqual({ code: 1002, reason: "Received fragmented control frame" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("answers a 126-byte ping with a 126-byte pong (workerd gap: control frames over 125 bytes)", async () => {
    // RFC 6455 5.5: control frames MUST have a payload of 125 bytes or less.
    const r = await room("ping126");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.ping, payload: Buffer.alloc(126, 7) });
    const pong = await raw.nextFrame();
    expect([pong.opcode, pong.payload.length]).toEqual([Opcode.pong, 126]);
    expect(await r.bystander.count()).toBe(2);
  });

  it("survives a flood of 2000 protocol pings: pongs (possibly coalesced), no close, no rate limit", async () => {
    const r = await room("pingflood");
    const raw = await upgraded(r.path);
    raw.send(...Array.from({ length: 2000 }, (_, i) => ({ opcode: Opcode.ping, payload: String(i) })));
    raw.sendText("after the flood");
    const frames: Frame[] = [];
    for (;;) {
      const frame = await raw.nextFrame(10_000);
      frames.push(frame);
      if (frame.opcode !== Opcode.pong) break;
    }
    const pongs = frames.filter((f) => f.opcode === Opcode.pong);
    // RFC 6455 5.5.3 lets an endpoint answer only the latest of pings it has not answered yet.
    expect(pongs.length).toBeGreaterThan(0);
    expect(pongs.length).toBeLessThanOrEqual(2000);
    expect(pongs.at(-1)?.payload.toString()).toBe("1999");
    expect(frames.at(-1)?.payload.toString()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
    expect(await r.bystander.count()).toBe(2);
  });

  it('answers 300 "ping" texts with "pong" from the runtime, outside our rate limit', async () => {
    // setWebSocketAutoResponse: the runtime answers without waking the room, so these never
    // reach webSocketMessage and never spend the socket's tokens (burst 100).
    const r = await room("autoping");
    const raw = await upgraded(r.path);
    raw.send(...Array.from({ length: 300 }, () => text("ping")));
    for (let i = 0; i < 300; i++) expect(await raw.nextText()).toBe("pong");
    raw.sendText("hi");
    expect(await raw.nextText()).toBe("[Durable Object] currentlyConnectedWebSockets: 2");
  });

  it("ignores data frames sent after the client's close frame", async () => {
    const r = await room("after-close");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(1000, "bye") }, text("after"));
    const { before, close } = await raw.untilClose();
    expect(before).toEqual([]);
    expect(close).toEqual({ code: 1000, reason: "bye" });
    expect(await raw.tcpEnded()).toBe(true);
    expect(await r.bystander.settle(1)).toBe(1);
  });
});

describe("closes", () => {
  it.each([1000, 1001, 3000, 4999])("completes a close with code %i by echoing code and reason", async (code) => {
    const r = await room(`close${code}`);
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(code, "bye") });
    expect((await raw.untilClose()).close).toEqual({ code, reason: "bye" });
    expect(await raw.tcpEnded()).toBe(true);
    expect(await r.bystander.settle(1)).toBe(1);
    const lines = await roomLog(r.name, "close");
    expect(lines.find((l) => l.event === "close")).toMatchObject({ code, reason: "bye", clean: true });
  });

  it("answers a close without a code (1005) with 1000", async () => {
    const r = await room("close1005");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload() });
    expect((await raw.untilClose()).close).toEqual({ code: 1000, reason: "" });
    expect(await raw.tcpEnded()).toBe(true);
    expect(await r.bystander.settle(1)).toBe(1);
    expect((await roomLog(r.name, "close")).find((l) => l.event === "close")).toMatchObject({ code: 1005 });
  });

  it("stops counting a socket whose TCP connection is cut (1006)", async () => {
    const r = await room("close1006");
    const raw = await upgraded(r.path);
    expect(await r.bystander.count()).toBe(2);
    raw.destroy();
    expect(await r.bystander.settle(1)).toBe(1);
    expect((await roomLog(r.name, "close")).find((l) => l.event === "close")).toMatchObject({
      code: 1006,
      clean: false,
    });
  });

  it("stops counting a socket whose client half-closes TCP (FIN) without a close frame", async () => {
    const r = await room("fin");
    const raw = await upgraded(r.path);
    expect(await r.bystander.count()).toBe(2);
    raw.socket.end();
    expect(await r.bystander.settle(1)).toBe(1);
    expect(await raw.tcpEnded()).toBe(true);
    expect((await roomLog(r.name, "close")).find((l) => l.event === "close")).toMatchObject({ code: 1006 });
  });

  it.each([0, 999, 1004, 1006, 1015, 1016, 2999, 5000, 65535])(
    "answers close code %i, which no peer may send, with 1002 from our code",
    async (code) => {
      // RFC 6455 7.4: these codes must not appear in a close frame. workerd passes them to
      // webSocketClose unchecked (workerd gap: no 1002 of its own); closeAnswer() says 1002.
      const r = await room(`bad${code}`);
      const raw = await upgraded(r.path);
      raw.send({ opcode: Opcode.close, payload: closePayload(code, "bye") });
      expect((await raw.untilClose()).close).toEqual({
        code: 1002,
        reason: `Invalid close code ${code} (RFC 6455 7.4)`,
      });
      expect(await raw.tcpEnded()).toBe(true);
      expect(await r.bystander.settle(1)).toBe(1);
      expect((await roomLog(r.name, "close")).find((l) => l.event === "close")).toMatchObject({ code });
    },
  );

  it("answers a close frame carrying 1005 like one with no code, with 1000 (workerd reports both as 1005)", async () => {
    const r = await room("bad1005");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(1005, "bye") });
    expect((await raw.untilClose()).close).toEqual({ code: 1000, reason: "" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it.each([1001, 1003, 1011, 1014, 3000, 4999])("echoes the valid close code %i with its reason", async (code) => {
    const r = await room(`valid${code}`);
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(code, "bye") });
    expect((await raw.untilClose()).close).toEqual({ code, reason: "bye" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("answers a 1-byte close payload with 1000 (workerd gap: no 1002)", async () => {
    const r = await room("close1byte");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: Buffer.from([0x03]) });
    expect((await raw.untilClose()).close).toEqual({ code: 1000, reason: "" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("accepts a close reason over 123 bytes (workerd gap) and answers with it cut to 123 bytes", async () => {
    // The close frame carries 126 bytes, over the 125 of RFC 6455 5.5; workerd takes it.
    const r = await room("longreason");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(1000, "r".repeat(124)) });
    const { close, frame } = await raw.untilClose();
    expect(close).toEqual({ code: 1000, reason: "r".repeat(123) });
    expect(frame.payload.length).toBe(125);
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("accepts a close reason of invalid UTF-8 and echoes U+FFFD (workerd gap: no 1007)", async () => {
    const r = await room("badreason");
    const raw = await upgraded(r.path);
    raw.send({ opcode: Opcode.close, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) });
    expect((await raw.untilClose()).close).toEqual({ code: 1000, reason: "\ufffd\ufffd" });
    expect(await r.bystander.settle(1)).toBe(1);
  });

  it("stops counting a socket cut in the middle of a frame and in the middle of a fragmented message", async () => {
    const r = await room("cut");
    const midFrame = await upgraded(r.path);
    const midMessage = await upgraded(r.path);
    expect(await r.bystander.count()).toBe(3);
    midFrame.send({ opcode: Opcode.text, payload: "0123456789", declaredLength: 1000 });
    midMessage.send(text("first half", { fin: false }));
    await sleep(200);
    midFrame.destroy();
    midMessage.destroy();
    expect(await r.bystander.settle(1)).toBe(1);
    const closes = (await roomLog(r.name, "close", 2)).filter((l) => l.event === "close");
    expect(closes.map((l) => l.code)).toEqual([1006, 1006]);
  });
});

describe("broken peers of a hibernated room", () => {
  it("stops counting sockets that broke the protocol or ignore our close; workerd keeps their TCP open", async () => {
    const r = await room("hibernated");
    const broken = await upgraded(r.path);
    const deaf = await upgraded(r.path);
    expect(await r.bystander.count()).toBe(3);
    // Idle past workerd's 10 s inactivity eviction: the room hibernates with its sockets.
    await sleep(12_000);

    // One breaks the protocol (workerd answers), one goes over our limit (we answer) and then
    // never answers our close frame.
    broken.send({ opcode: 0x3, payload: "x" });
    deaf.sendText("a".repeat(MAX_MESSAGE_BYTES + 1));
    expect((await broken.untilClose()).close).toEqual({ code: 1002, reason: "Unknown opcode 3" });
    expect((await deaf.untilClose()).close.code).toBe(1009);
    // The runtime woke the room with webSocketError; it stopped counting both at once.
    expect(await r.bystander.settle(1)).toBe(1);
    const brokenId = (await roomLog(r.name, "error")).find((l) => l.event === "error")?.id;

    // workerd gap: while the room is busy, neither TCP connection is closed, although
    // workerd itself sent the 1002 and will accept nothing more on that socket.
    for (let i = 0; i < 5; i++) {
      await sleep(1_000);
      expect(await r.bystander.count()).toBe(1);
    }
    expect([broken.ended, deaf.ended]).toEqual([false, false]);

    // Once the room is idle again (and evicted), workerd closes the broken one's TCP ...
    expect(await broken.tcpEnded(25_000)).toBe(true);
    // ... but not the one that never answered our close: RFC 6455 7.1.1 leaves the server
    // waiting for the client's close frame, and workerd has no close timeout (workerd gap).
    expect(deaf.ended).toBe(false);
    deaf.send({ opcode: Opcode.close, payload: closePayload(1000, "late") });
    expect(await deaf.tcpEnded()).toBe(true);
    expect(await r.bystander.settle(1)).toBe(1);
    const late = await roomLog(r.name, "close", 3);
    expect(late.filter((l) => l.event === "close").at(-1)).toMatchObject({ code: 1000, reason: "late", clean: true });
    // What the runtime delivered for the broken socket: webSocketError only, never
    // webSocketClose, even after its TCP connection ended. The one close line is our own.
    expect(late.filter((l) => l.event === "close" && l.id === brokenId)).toEqual([
      { event: "close", room: r.name, id: brokenId, code: 1011, reason: "WebSocket error", clean: false },
    ]);
  }, 60_000);
});

describe("sockets that ignore our close", () => {
  it("bounds them at twice MAX_CONNECTIONS_PER_ROOM, uncounted meanwhile, then refuses upgrades with 503", async () => {
    // Each one goes over our size limit, gets our 1009 and never answers it: workerd keeps
    // the socket CLOSING (no close timeout, no terminate()). The room does not count it, but
    // holds it, and refuses new sockets once it holds twice the limit.
    const r = await room("zombies");
    const zombies = 2 * MAX_CONNECTIONS_PER_ROOM - 1; // with the bystander: twice the limit
    for (let i = 0; i < zombies; i++) {
      const raw = await upgraded(r.path);
      raw.sendText("a".repeat(MAX_MESSAGE_BYTES + 1));
      expect((await raw.untilClose()).close.code).toBe(1009);
    }
    expect(raws.filter((raw) => raw.ended)).toHaveLength(0);
    expect(await r.bystander.settle(1)).toBe(1);
    const refused = await handshake(r.path);
    expect(refused.head.status).toBe(503);
    expect(refused.head.headers["retry-after"]).toBe("5");
    expect(await refused.body()).toBe(
      `Room is full: ${zombies} closing sockets not yet released, twice the limit (MAX_CONNECTIONS_PER_ROOM). Try again later.`,
    );
  });
});

describe("server log", () => {
  it("shows no uncaught exception from our code, only workerd's reports of protocol errors", () => {
    const runtime = [
      // workerd reports each WebSocket protocol error it detects (1002, 1009) as uncaught,
      // from its HTTP layer (kj/compat/http.c++), not from our code.
      /Uncaught exception: kj\/compat\/http\.c\+\+:\d+: failed: remote\.jsg\.Error: WebSocket protocol error; protocolError\.statusCode = 100[29]/,
      /NOSENTRY reporting trace with exception outcome, but no actual exceptions/,
    ];
    const exceptions = server.exceptions();
    expect(exceptions.filter((line) => !runtime.some((known) => known.test(line)))).toEqual([]);
    expect(exceptions.length).toBeGreaterThan(0); // the protocol errors above were reported
  });
});
