/**
 * Hostile capnweb clients end to end against `wrangler dev`: malformed frames over a raw `ws`
 * socket to /rpc, wrong argument types and unknown methods through the typed client
 * (rpc/client.ts), floods and oversized messages over one session, and abusive HTTP batches.
 * After each, a fresh session must still work: the server is healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batch, connect, errorCode } from "../../rpc/client";
import { RawSocket, sleep } from "../support/raw-ws";
import { type DevServer, startDev } from "../support/wrangler-dev";
import { type Client, openClient, within } from "../support/ws-client";

const TOKEN = "hostile-capnweb-token";
const MAX_MESSAGE_BYTES = 8192;
/** maxRpcMessageBytes() in src/rpc-endpoint.ts: 2 x MAX_MESSAGE_BYTES + 16 KiB. */
const RPC_LIMIT = 2 * MAX_MESSAGE_BYTES + 16_384;
const FLOOD_REASON = "over 256 calls in flight or not disposed in this session";
/** A room with one plain socket in it, for the health check after every case. */
const HEALTH_ROOM = `cw-health-${Date.now().toString(36)}`;

let server: DevServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startDev({ vars: { ADMIN_TOKEN: TOKEN, MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) } });
  clients.push(await openClient(`${server.wsUrl}/rooms/${HEALTH_ROOM}/websocket`));
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await server?.stop();
});

/** A fresh WebSocket session and a fresh HTTP batch both answer, and count the health room right. */
async function expectHealthy(): Promise<void> {
  using api = connect(server.url);
  expect(await api.getConnectionCount(HEALTH_ROOM)).toBe(1);
  expect(await batch(server.url).getConnectionCount(HEALTH_ROOM)).toBe(1);
}

/** The error a call was refused with, as code and message; fails the test when it succeeded. */
async function refusal(promise: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: errorCode(error), message: error instanceof Error ? error.message : String(error) };
  }
  throw new Error("the call was not refused");
}

/** A raw `ws` socket to /rpc that speaks no capnweb of its own. */
async function rawRpc(): Promise<Client> {
  const client = await openClient(`${server.wsUrl}/rpc`);
  clients.push(client);
  return client;
}

/** What capnweb does to a session it cannot go on with: an `abort` message, then a close. */
async function abortOf(client: Client): Promise<{ abort: unknown; code: number; reason: string }> {
  const message = String(await client.next());
  const closed = await within(client.closed, "the close of the aborted session");
  return { abort: JSON.parse(message), ...closed };
}

const call = (method: string, args: unknown[] = []) => JSON.stringify(["push", ["pipeline", 0, [method], args]]);
const nested = (depth: number): string => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

describe("malformed capnweb frames over WebSocket", () => {
  it.each([
    ["not JSON", ["hello"], "SyntaxError", `Unexpected token 'h', "hello" is not valid JSON`],
    ["a JSON number", ["42"], "Error", "bad RPC message: 42"],
    ["a JSON string", ['"push"'], "Error", 'bad RPC message: "push"'],
    ["a JSON object", ['{"push":1}'], "Error", 'bad RPC message: {"push":1}'],
    ["an empty array", ["[]"], "Error", "bad RPC message: []"],
    ["an unknown message type", ['["frobnicate",1]'], "Error", 'bad RPC message: ["frobnicate",1]'],
    ["a push without an expression", ['["push"]'], "Error", 'bad RPC message: ["push"]'],
    ["a pull of a string id", ['["pull","x"]'], "Error", 'bad RPC message: ["pull","x"]'],
    ["a pull of an unknown id", ['["pull",99]'], "Error", "no such export ID: 99"],
    ["a release of an unknown id", ['["release",99,1]'], "Error", "no such export ID: 99"],
    [
      "a call after releasing the main object",
      ['["release",0,1]', call("getConnectionCount")],
      "Error",
      "no such entry on exports table: 0",
    ],
    [
      "a call on an unknown import",
      ['["push",["pipeline",999,["x"],[]]]'],
      "Error",
      "no such entry on exports table: 999",
    ],
  ])("aborts the session on %s with capnweb's reason and close 3000", async (_what, frames, type, reason) => {
    const client = await rawRpc();
    for (const frame of frames) client.ws.send(frame);
    expect(await abortOf(client)).toEqual({ abort: ["abort", ["error", type, reason]], code: 3000, reason });
    await expectHealthy();
  });

  it("aborts the session on a binary frame, which capnweb reads as text", async () => {
    const client = await rawRpc();
    client.ws.send(Buffer.from(call("getConnectionCount")), { binary: true });
    const reason = `Unexpected token 'o', "[object ArrayBuffer]" is not valid JSON`;
    expect(await abortOf(client)).toEqual({ abort: ["abort", ["error", "SyntaxError", reason]], code: 3000, reason });
    await expectHealthy();
  });

  it("closes the session without an answer when the client sends capnweb's abort", async () => {
    const client = await rawRpc();
    client.ws.send('["abort",["error","Error","client gives up"]]');
    expect(await within(client.closed, "the close")).toEqual({ code: 3000, reason: "client gives up" });
    await expectHealthy();
  });

  it("ignores a resolve for an import it never made, and keeps the session", async () => {
    const client = await rawRpc();
    client.ws.send('["resolve",5,1]');
    client.ws.send(call("getConnectionCount", [HEALTH_ROOM]));
    client.ws.send('["pull",1]');
    expect(String(await client.next())).toBe('["resolve",1,1]');
    await expectHealthy();
  });

  it("aborts the session on arguments nested deeper than capnweb's maximum depth (256)", async () => {
    const client = await rawRpc();
    // capnweb escapes a literal array as [[...]], so 600 brackets nest 300 arrays deep.
    client.ws.send(`["push",["pipeline",0,["getConnectionCount"],[${nested(600)}]]]`);
    client.ws.send('["pull",1]');
    const reason = "Deserialization exceeded maximum allowed message depth of 256.";
    expect(await abortOf(client)).toEqual({ abort: ["abort", ["error", "TypeError", reason]], code: 3000, reason });
    await expectHealthy();
  });

  it("answers prototype members called as methods with capnweb's TypeError, keeping the session", async () => {
    const client = await rawRpc();
    const members = ["constructor", "__proto__", "toString", "hasOwnProperty", "then"];
    members.forEach((member, i) => {
      client.ws.send(call(member));
      client.ws.send(`["pull",${i + 1}]`);
    });
    const answers = await Promise.all(members.map(async () => JSON.parse(String(await client.next()))));
    expect(answers).toEqual(
      members.map((member, i) => ["reject", i + 1, ["error", "TypeError", `'${member}' is not a function.`]]),
    );
    client.ws.send(call("getConnectionCount", [HEALTH_ROOM]));
    client.ws.send(`["pull",${members.length + 1}]`);
    expect(String(await client.next())).toBe(`["resolve",${members.length + 1},1]`);
  });
});

describe("typed calls with wrong arguments", () => {
  it("refuses wrong argument types of the public API with typed errors, and the session goes on", async () => {
    using api = connect(server.url);
    const loose = api as unknown as {
      getConnectionCount(room: unknown): Promise<number>;
      subscribe(room: unknown, listener: unknown): Promise<unknown>;
      authenticate(token: unknown): Promise<unknown>;
    };
    expect(await refusal(loose.getConnectionCount(42))).toEqual({
      code: "invalid_room",
      message: "[invalid_room] room must be a string",
    });
    expect(await refusal(loose.getConnectionCount("no spaces allowed"))).toEqual({
      code: "invalid_room",
      message: "[invalid_room] room must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
    });
    expect(await refusal(loose.subscribe("room", "not a function"))).toEqual({
      code: "invalid_argument",
      message: "[invalid_argument] listener must be a function",
    });
    expect(await refusal(loose.subscribe(42, () => {}))).toMatchObject({ code: "invalid_room" });
    for (const token of [123, {}, null, ["x"]]) {
      expect(await refusal(loose.authenticate(token))).toEqual({
        code: "forbidden",
        message: "[forbidden] wrong token",
      });
    }
    // Nested 120 deep is within capnweb's limit: it reaches our validation, which refuses it.
    let deep: unknown = 1;
    for (let i = 0; i < 120; i++) deep = [deep];
    expect(await refusal(loose.getConnectionCount(deep))).toMatchObject({ code: "invalid_room" });
    expect(await api.getConnectionCount(HEALTH_ROOM)).toBe(1);
    await expectHealthy();
  });

  it("refuses wrong argument types of the authenticated API with typed errors", async () => {
    using api = connect(server.url);
    const rooms = api.authenticate(TOKEN);
    const loose = rooms as unknown as {
      broadcast(message: unknown, options?: unknown): Promise<unknown>;
      send(id: unknown, message: unknown): Promise<unknown>;
      disconnect(id: unknown, code?: unknown, reason?: unknown): Promise<unknown>;
    };
    const cases: [Promise<unknown>, string, string][] = [
      [loose.broadcast(42), "invalid_argument", "message must be a string, an ArrayBuffer or a Uint8Array"],
      [loose.broadcast("x", { room: 5 }), "invalid_room", "room must be a string"],
      [loose.broadcast("x", { bogus: 1 }), "invalid_argument", "options must be an object with only room and except"],
      [loose.broadcast("x", { except: "id" }), "invalid_argument", "except must be an array of connection ids"],
      [loose.disconnect("id", 1005), "invalid_argument", "code must be 1000 or 3000-4999"],
      [loose.disconnect("id", 1000, "r".repeat(124)), "invalid_argument", "reason must be at most 123 UTF-8 bytes"],
      [loose.send("", "x"), "invalid_argument", "connection id must not be empty"],
      [
        loose.broadcast("a".repeat(MAX_MESSAGE_BYTES + 1)),
        "too_large",
        `message of ${MAX_MESSAGE_BYTES + 1} bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes (MAX_MESSAGE_BYTES)`,
      ],
      [
        rooms.room("bad name").getConnectionCount(),
        "invalid_room",
        "room must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
      ],
    ];
    for (const [promise, code, message] of cases) {
      expect(await refusal(promise)).toEqual({ code, message: `[${code}] ${message}` });
    }
    expect(await rooms.getConnectionCount(HEALTH_ROOM)).toBe(1);
    await expectHealthy();
  });

  it("answers an unknown method with capnweb's TypeError (no typed code) and keeps the session", async () => {
    using api = connect(server.url);
    const loose = api as unknown as { dropAllRooms(): Promise<unknown> };
    expect(await refusal(loose.dropAllRooms())).toEqual({
      code: undefined,
      message: "'dropAllRooms' is not a function.",
    });
    const anonymous = api as unknown as { broadcast(message: string): Promise<unknown> };
    expect((await refusal(anonymous.broadcast("hi"))).code).toBe("unauthenticated");
    expect(await api.getConnectionCount(HEALTH_ROOM)).toBe(1);
  });

  it("refuses a 17th subscription in one session with limit_exceeded", async () => {
    using api = connect(server.url);
    const room = `cw-subs-${Date.now().toString(36)}`;
    for (let i = 0; i < 16; i++) await api.subscribe(room, () => {});
    expect(await refusal(api.subscribe(room, () => {}))).toEqual({
      code: "limit_exceeded",
      message: "[limit_exceeded] a session may hold at most 16 subscriptions: dispose one first",
    });
    expect(await api.getConnectionCount(HEALTH_ROOM)).toBe(1);
  });
});

describe("floods and oversized messages over one session", () => {
  it("closes a session with 300 pipelined calls in flight with 1008 and a reason", async () => {
    using api = connect(server.url);
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => api.getConnectionCount(HEALTH_ROOM)));
    const reasons = new Set(results.map((r) => (r.status === "rejected" ? String(r.reason) : "fulfilled")));
    expect([...reasons]).toEqual([`Error: Peer closed WebSocket: 1008 ${FLOOD_REASON}`]);
    await expectHealthy();
  });

  it("serves 600 calls in waves of 200 in one session (the cap is on calls held at once)", async () => {
    using api = connect(server.url);
    for (let wave = 0; wave < 3; wave++) {
      const counts = await Promise.all(Array.from({ length: 200 }, () => api.getConnectionCount(HEALTH_ROOM)));
      expect(new Set(counts)).toEqual(new Set([1]));
    }
  });

  it("closes a raw session that pushes 300 calls and never pulls with 1008", async () => {
    const client = await rawRpc();
    for (let i = 0; i < 300; i++) client.ws.send(call("getConnectionCount"));
    expect(await within(client.closed, "the close")).toEqual({ code: 1008, reason: FLOOD_REASON });
    await expectHealthy();
  });

  it("closes a raw session that pulls 300 answers and never releases them with 1008", async () => {
    const client = await rawRpc();
    for (let i = 1; i <= 300; i++) {
      client.ws.send(call("getConnectionCount"));
      client.ws.send(`["pull",${i}]`);
    }
    expect(await within(client.closed, "the close", 10_000)).toEqual({ code: 1008, reason: FLOOD_REASON });
    await expectHealthy();
  });

  it("closes a session whose message is over the capnweb limit with 1009 and a reason", async () => {
    using api = connect(server.url);
    const room = "a".repeat(40_000);
    const size = call("getConnectionCount", [room]).length;
    expect(await refusal(api.getConnectionCount(room))).toEqual({
      code: undefined,
      message: `Peer closed WebSocket: 1009 capnweb message of ${size} bytes is over the limit of ${RPC_LIMIT} bytes`,
    });
    await expectHealthy();
  });

  it("processes a message just under the capnweb limit (and refuses its argument)", async () => {
    using api = connect(server.url);
    const room = "a".repeat(RPC_LIMIT - 100);
    expect((await refusal(api.getConnectionCount(room))).code).toBe("invalid_room");
    expect(await api.getConnectionCount(HEALTH_ROOM)).toBe(1);
  });
});

describe("abusive HTTP batches", () => {
  const pullOne = `${call("getConnectionCount", [HEALTH_ROOM])}\n["pull",1]`;

  async function post(body: string): Promise<{ status: number; type: string | null; text: string }> {
    const response = await fetch(`${server.url}/rpc`, { method: "POST", body });
    return { status: response.status, type: response.headers.get("Content-Type"), text: await response.text() };
  }

  it("answers a batch of 129 messages with 413 and accepts one of 128", async () => {
    expect(await post(Array.from({ length: 129 }, () => call("getConnectionCount")).join("\n"))).toEqual({
      status: 413,
      type: "text/plain; charset=utf-8",
      text: "Batch of 129 messages is over the limit of 128.",
    });
    const lines = Array.from({ length: 64 }, (_, i) => [
      call("getConnectionCount", [HEALTH_ROOM]),
      `["pull",${i + 1}]`,
    ]);
    const ok = await post(lines.flat().join("\n"));
    expect(ok.status).toBe(200);
    expect(ok.text.split("\n")).toHaveLength(64);
    await expectHealthy();
  });

  it("answers a body over 1 MiB with 413, by Content-Length and when streamed in chunks", async () => {
    expect(await post("x".repeat(1_048_577))).toEqual({
      status: 413,
      type: "text/plain; charset=utf-8",
      text: "Batch body is over the limit of 1048576 bytes.",
    });
    // No Content-Length: the Worker reads the stream and stops at the limit.
    const chunk = "x".repeat(64 * 1024);
    const chunks = Array.from({ length: 17 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const raw = await RawSocket.handshake(server.port, {
      path: "/rpc",
      method: "POST",
      headers: {
        Upgrade: null,
        Connection: "close",
        "Sec-WebSocket-Key": null,
        "Sec-WebSocket-Version": null,
        "Transfer-Encoding": "chunked",
      },
      body: `${chunks}0\r\n\r\n`,
    });
    try {
      expect(raw.head.status).toBe(413);
      expect(await raw.body()).toBe("Batch body is over the limit of 1048576 bytes.");
    } finally {
      raw.destroy();
    }
    await expectHealthy();
  });

  it("answers a batch line over the capnweb limit with 413", async () => {
    const line = call("getConnectionCount", ["a".repeat(RPC_LIMIT)]);
    expect(await post(line)).toEqual({
      status: 413,
      type: "text/plain; charset=utf-8",
      text: `Batch message of ${line.length} bytes is over the limit of ${RPC_LIMIT} bytes.`,
    });
    await expectHealthy();
  });

  it("answers an empty batch with an empty 200 and a GET with 405", async () => {
    expect(await post("")).toMatchObject({ status: 200, text: "" });
    const get = await fetch(`${server.url}/rpc`);
    expect([get.status, get.headers.get("Allow"), await get.text()]).toEqual([
      405,
      "POST",
      "The /rpc endpoint takes a WebSocket upgrade or an HTTP batch POST (capnweb).",
    ]);
    expect(await post(pullOne)).toMatchObject({ status: 200, text: '["resolve",1,1]' });
  });

  it("answers a malformed batch with 400 and capnweb's reason, not an exception", async () => {
    // newHttpBatchRpcResponse() rejects a batch it cannot read; batchSession() answers 400
    // with the reason (before that fix, the Worker threw: a 500 page, 1101 in production).
    const bodies: [string, string, RegExp][] = [
      ["not JSON", "this is not capnweb", /is not valid JSON/],
      ["JSON of the wrong shape", '{"a":1}', /bad RPC message/],
      ["an unknown message type", '["frobnicate"]', /bad RPC message/],
      ["a pull of an unknown id", '["pull",7]', /no such export ID: 7/],
      ["arguments nested too deep", `["push",["pipeline",0,["getConnectionCount"],[${nested(600)}]]]`, /depth of 256/],
    ];
    const errorsBefore = server
      .log()
      .split("\n")
      .filter((l) => l.includes("[wrangler:error]")).length;
    const answers = [];
    for (const [what, body, reason] of bodies) {
      const answer = await post(body);
      answers.push({ what, status: answer.status, type: answer.type, explains: reason.test(answer.text) });
    }
    expect(answers).toEqual(
      bodies.map(([what]) => ({ what, status: 400, type: "text/plain; charset=utf-8", explains: true })),
    );
    await sleep(500); // let the log catch up
    const errorsAfter = server
      .log()
      .split("\n")
      .filter((l) => l.includes("[wrangler:error]")).length;
    expect(errorsAfter - errorsBefore, "uncaught exceptions logged by the Worker").toBe(0);
    await expectHealthy();
  });
});

describe("server log", () => {
  it("shows no uncaught exception", () => {
    expect(server.exceptions()).toEqual([]);
  });
});
