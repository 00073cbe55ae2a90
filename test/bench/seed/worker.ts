/**
 * Cloudflare's docs example "Build a WebSocket server using Durable Objects and Workers", the
 * baseline the bench compares against: one Durable Object (`idFromName("foo")`) that calls
 * `accept()` on each socket, counts sockets in a field, and answers every message with the
 * count. Kept as close to the docs as type-checking allows.
 *
 * One bench addition, outside the docs: the docs example has no broadcast, so `POST /broadcast`
 * makes the object send the request body to each socket it accepted, one `send()` per socket
 * in a loop over a Set kept for this (added on accept, removed on close), and answer
 * `{"delivered":N}`: the "500 individual sends" the bench compares ours' broadcast with.
 */
import { DurableObject } from "cloudflare:workers";

interface SeedEnv {
  WEBSOCKET_SERVER: DurableObjectNamespace<WebSocketServer>;
}

export class WebSocketServer extends DurableObject<SeedEnv> {
  currentlyConnectedWebSockets = 0;
  /** Bench addition: the accepted sockets, for `POST /broadcast`. */
  sockets = new Set<WebSocket>();

  override async fetch(request: Request): Promise<Response> {
    if (request.method === "POST") {
      const message = await request.text();
      let delivered = 0;
      for (const socket of this.sockets) {
        socket.send(message);
        delivered++;
      }
      return Response.json({ delivered });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    this.currentlyConnectedWebSockets += 1;
    this.sockets.add(server);
    server.addEventListener("message", () => {
      server.send(`[Durable Object] currentlyConnectedWebSockets: ${this.currentlyConnectedWebSockets}`);
    });
    // The docs also call server.close(code) here; from 2026-04-07 (web_socket_auto_reply_to_close)
    // the runtime answers the close itself, and close() with 1005/1006 would throw.
    server.addEventListener("close", () => {
      this.currentlyConnectedWebSockets -= 1;
      this.sockets.delete(server);
    });
    return new Response(null, { status: 101, webSocket: client });
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    if (request.method === "POST" && new URL(request.url).pathname === "/broadcast") {
      return env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName("foo")).fetch(request);
    }
    if (request.url.endsWith("/websocket")) {
      if (request.headers.get("Upgrade") !== "websocket") {
        return new Response("Durable Object expected Upgrade: websocket", { status: 426 });
      }
      return env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName("foo")).fetch(request);
    }
    return new Response(null, { status: 400, statusText: "Bad Request", headers: { "Content-Type": "text/plain" } });
  },
} satisfies ExportedHandler<SeedEnv>;
