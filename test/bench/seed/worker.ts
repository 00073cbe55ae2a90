/**
 * Cloudflare's docs example "Build a WebSocket server using Durable Objects and Workers", the
 * baseline the bench compares against: one Durable Object (`idFromName("foo")`) that calls
 * `accept()` on each socket, counts sockets in a field, and answers every message with the
 * count. Kept as close to the docs as type-checking allows.
 */
import { DurableObject } from "cloudflare:workers";

interface SeedEnv {
  WEBSOCKET_SERVER: DurableObjectNamespace<WebSocketServer>;
}

export class WebSocketServer extends DurableObject<SeedEnv> {
  currentlyConnectedWebSockets = 0;

  override async fetch(_request: Request): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    this.currentlyConnectedWebSockets += 1;
    server.addEventListener("message", () => {
      server.send(`[Durable Object] currentlyConnectedWebSockets: ${this.currentlyConnectedWebSockets}`);
    });
    // The docs also call server.close(code) here; from 2026-04-07 (web_socket_auto_reply_to_close)
    // the runtime answers the close itself, and close() with 1005/1006 would throw.
    server.addEventListener("close", () => {
      this.currentlyConnectedWebSockets -= 1;
    });
    return new Response(null, { status: 101, webSocket: client });
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    if (request.url.endsWith("/websocket")) {
      if (request.headers.get("Upgrade") !== "websocket") {
        return new Response("Durable Object expected Upgrade: websocket", { status: 426 });
      }
      return env.WEBSOCKET_SERVER.get(env.WEBSOCKET_SERVER.idFromName("foo")).fetch(request);
    }
    return new Response(null, { status: 400, statusText: "Bad Request", headers: { "Content-Type": "text/plain" } });
  },
} satisfies ExportedHandler<SeedEnv>;
