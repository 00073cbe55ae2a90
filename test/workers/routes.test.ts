import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseFormat, roomNameProblem, route } from "../../src/routes";
import { BASE, upgradeHeaders } from "./sockets";

const get = (path: string, headers?: HeadersInit) => exports.default.fetch(`${BASE}${path}`, { headers });

describe("route()", () => {
  it.each([
    ["/websocket", { kind: "socket", room: "default", format: "seed" }],
    ["/websocket?format=echo", { kind: "socket", room: "default", format: "echo" }],
    ["/websocket?x=/websocket&y=1", { kind: "socket", room: "default", format: "seed" }],
    ["/rooms/lobby/websocket?format=json", { kind: "socket", room: "lobby", format: "json" }],
    ["/rooms/A.b_c-9/websocket", { kind: "socket", room: "A.b_c-9", format: "seed" }],
    ["/rpc", { kind: "rpc" }],
  ])("routes %s", (path, expected) => {
    expect(route(new URL(path, BASE))).toEqual(expected);
  });

  it.each(["/", "/websocket/", "/x/websocket", "/rooms//websocket/extra", "/rooms/a/b/websocket"])(
    "answers 400 Bad Request for %s",
    (path) => {
      expect(route(new URL(path, BASE))).toEqual({ kind: "invalid", status: 400, text: "Bad Request" });
    },
  );

  it("accepts room names of 1 to 64 allowed characters only", () => {
    expect(roomNameProblem("a")).toBeUndefined();
    expect(roomNameProblem("a".repeat(64))).toBeUndefined();
    expect(roomNameProblem("")).toMatch(/1 to 64/);
    expect(roomNameProblem("a".repeat(65))).toMatch(/1 to 64/);
    for (const bad of ["a b", "a%20b", "é", "a/b", "a:b", "a+b"]) expect(roomNameProblem(bad)).toBeDefined();
  });

  it("reads format, absent meaning seed", () => {
    expect(parseFormat(null)).toBe("seed");
    expect(parseFormat("echo")).toBe("echo");
    expect(parseFormat("JSON")).toEqual({ problem: "Invalid format: use one of seed, echo, json" });
  });
});

describe("the Worker's HTTP answers", () => {
  it("answers 426 with the docs example's text without an upgrade", async () => {
    const response = await get("/websocket");
    expect(response.status).toBe(426);
    expect(await response.text()).toBe("Durable Object expected Upgrade: websocket");
  });

  it("answers 426 for a valid room path without an upgrade", async () => {
    const response = await get("/rooms/lobby/websocket?format=echo");
    expect(response.status).toBe(426);
    expect(await response.text()).toBe("Durable Object expected Upgrade: websocket");
  });

  it("answers 400 Bad Request for other paths, upgrade or not", async () => {
    for (const headers of [undefined, upgradeHeaders()]) {
      const response = await get("/nope", headers);
      expect(response.status).toBe(400);
      expect(await response.text()).toBe("Bad Request");
    }
  });

  it("refuses an invalid room name with 400 and says why, upgrade or not", async () => {
    for (const headers of [undefined, upgradeHeaders()]) {
      const response = await get(`/rooms/${"x".repeat(65)}/websocket`, headers);
      expect(response.status).toBe(400);
      expect(await response.text()).toBe("Invalid room name: use 1 to 64 characters of A-Z a-z 0-9 . _ -");
    }
  });

  it("refuses an unknown format with 400, upgrade or not", async () => {
    for (const headers of [undefined, upgradeHeaders()]) {
      const response = await get("/websocket?format=xml", headers);
      expect(response.status).toBe(400);
      expect(await response.text()).toBe("Invalid format: use one of seed, echo, json");
    }
  });

  it("compares the upgrade header case-insensitively", async () => {
    const response = await get("/websocket", { Upgrade: "WebSocket" });
    expect(response.status).toBe(101);
    response.webSocket?.accept();
    response.webSocket?.close(1000);
  });
});
