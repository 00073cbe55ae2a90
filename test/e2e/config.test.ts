/** Settings from vars end to end: an invalid value is reported, and origins shape /rpc's CORS. */
import { afterAll, describe, expect, it } from "vitest";
import { type DevServer, startDev } from "../support/wrangler-dev";

const servers: DevServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function serve(vars: Record<string, string>): Promise<DevServer> {
  const server = await startDev({ vars });
  servers.push(server);
  return server;
}

describe("an invalid setting", () => {
  it("is answered on the first request with 500 and a text naming the variable", async () => {
    const server = await serve({ MAX_MESSAGE_BYTES: "lots" });
    for (const path of ["/websocket", "/rooms/lobby/websocket", "/rpc"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(500);
      expect(await response.text()).toBe('Invalid MAX_MESSAGE_BYTES="lots": expected a whole number of at least 1.');
    }
    expect(server.log()).toContain('"event":"refused"');
  });
});

describe("ALLOWED_ORIGINS on /rpc over HTTP", () => {
  const good = "https://good.example";

  it("answers an allowed origin's batch and preflight with that origin, never *", async () => {
    const server = await serve({ ALLOWED_ORIGINS: `${good}, http://localhost:8787` });
    const preflight = await fetch(`${server.url}/rpc`, {
      method: "OPTIONS",
      headers: { Origin: good, "Access-Control-Request-Method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe(good);
    expect(preflight.headers.get("Access-Control-Allow-Methods")).toBe("POST");
    expect(preflight.headers.get("Vary")).toBe("Origin");

    const call = await fetch(`${server.url}/rpc`, {
      method: "POST",
      headers: { Origin: good },
      body: '["push",["pipeline",0,["getConnectionCount"],["lobby"]]]\n["pull",1]',
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("Access-Control-Allow-Origin")).toBe(good);
    expect(await call.text()).toBe('["resolve",1,0]');

    const refused = await fetch(`${server.url}/rpc`, {
      method: "POST",
      headers: { Origin: "https://evil.example" },
      body: "",
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toBe("Origin https://evil.example is not allowed (ALLOWED_ORIGINS).");

    const noOrigin = await fetch(`${server.url}/rpc`, { method: "POST", body: "" });
    expect(noOrigin.status).toBe(200);
    expect(noOrigin.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
