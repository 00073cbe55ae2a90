/**
 * `npm run dev:example` end to end: both Workers in one wrangler dev, the caller serving the
 * port; real sockets through the caller's forwarding, then /count and /broadcast.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDev } from "../support/wrangler-dev";
import { type Client, openClient } from "../support/ws-client";

let server: DevServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startDev({
    command: ["npm", "run", "dev:example", "--", "--port", "{port}", "--ip", "127.0.0.1", "--inspector-port", "0"],
  });
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await server?.stop();
});

describe("npm run dev:example", () => {
  it("serves sockets, /count and /broadcast through the caller Worker", async () => {
    const room = `e2e-caller-${Date.now()}`;
    for (let i = 0; i < 3; i++) clients.push(await openClient(`${server.wsUrl}/rooms/${room}/websocket`));
    expect(await clients[2]?.ask("hi")).toBe("[Durable Object] currentlyConnectedWebSockets: 3");

    const count = await fetch(`${server.url}/count?room=${room}`);
    expect(await count.json()).toEqual({ room, connections: 3 });

    const broadcast = await fetch(`${server.url}/broadcast?room=${room}`, { method: "POST", body: "to all" });
    expect(await broadcast.json()).toEqual({ delivered: 3 });
    for (const c of clients) expect(await c.next()).toBe("to all");
  });

  it("answers the default room and refuses a bad one", async () => {
    const count = await fetch(`${server.url}/count`);
    expect(await count.json()).toMatchObject({ room: "default" });
    const bad = await fetch(`${server.url}/count?room=no%20spaces`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_room" });
  });
});
