/** The wire contract end to end: `wrangler dev` on a free loopback port, real `ws` clients. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDev } from "../support/wrangler-dev";
import { type Client, openClient } from "../support/ws-client";

const line = (n: number) => `[Durable Object] currentlyConnectedWebSockets: ${n}`;
let server: DevServer;
const open: Client[] = [];

beforeAll(async () => {
  server = await startDev();
});
afterAll(async () => {
  for (const c of open) c.ws.terminate();
  await server?.stop();
});

async function join(path: string): Promise<Client> {
  const client = await openClient(server.wsUrl + path);
  open.push(client);
  return client;
}

describe("wrangler dev", () => {
  it("answers plain HTTP on /websocket with 426 and the docs example's text", async () => {
    const response = await fetch(`${server.url}/websocket`);
    expect(response.status).toBe(426);
    expect(await response.text()).toBe("Durable Object expected Upgrade: websocket");
  });

  it("counts 1, 2, 3 for three clients, then 2 after one closes without a code", async () => {
    const room = `/rooms/e2e-count-${Date.now()}/websocket`;
    const a = await join(room);
    expect(await a.ask("hi")).toBe(line(1));
    const b = await join(room);
    expect(await b.ask("hi")).toBe(line(2));
    const c = await join(room);
    expect(await c.ask("hi")).toBe(line(3));

    c.ws.close(); // no code: the server sees 1005 and must not throw
    expect((await c.closed).code).toBe(1000);
    expect(await a.ask("again")).toBe(line(2));
    expect(await b.ask("again")).toBe(line(2));
    expect(server.exceptions()).toEqual([]);
    expect(server.log()).toMatch(/"event":"close".*"code":1005/);
  });

  it("keeps rooms isolated", async () => {
    const stamp = Date.now();
    const a = await join(`/rooms/e2e-a-${stamp}/websocket`);
    await join(`/rooms/e2e-a-${stamp}/websocket`);
    const b = await join(`/rooms/e2e-b-${stamp}/websocket`);
    expect(await a.ask("x")).toBe(line(2));
    expect(await b.ask("x")).toBe(line(1));
  });

  it("echoes binary as binary with format=echo", async () => {
    const e = await join(`/rooms/e2e-echo-${Date.now()}/websocket?format=echo`);
    const reply = await e.ask(Buffer.from([1, 2, 3, 255]));
    expect(Buffer.isBuffer(reply)).toBe(true);
    expect([...(reply as Buffer)]).toEqual([1, 2, 3, 255]);
  });

  it("drops the count when a client vanishes without a close frame (1006)", async () => {
    const room = `/rooms/e2e-cut-${Date.now()}/websocket`;
    const a = await join(room);
    const b = await join(room);
    expect(await b.ask("x")).toBe(line(2));
    b.ws.terminate();
    let reply = "";
    for (let i = 0; i < 50 && reply !== line(1); i++) {
      reply = String(await a.ask("x"));
      if (reply !== line(1)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply).toBe(line(1));
    expect(server.exceptions()).toEqual([]);
  });
});
