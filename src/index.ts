/**
 * The Worker: routing only. `/websocket` and `/rooms/<room>/websocket` go to the room's
 * Durable Object (one per name, `idFromName`); everything else is 400 as in the docs example.
 */
import { ConfigError, isOriginAllowed, readConfig } from "./config";
import type { Env } from "./env";
import { log } from "./log";
import { UPGRADE_REQUIRED_TEXT } from "./protocol";
import { isWebSocketUpgrade, route } from "./routes";

export { Room } from "./room";

function text(body: string, status: number, headers?: HeadersInit): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}

function refuse(url: URL, status: number, reason: string): Response {
  log({ event: "refused", path: url.pathname, status, reason });
  return text(reason, status);
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    let config;
    try {
      config = readConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return refuse(url, 500, error.message);
      throw error;
    }
    const target = route(url);
    if (target.kind === "invalid") return refuse(url, target.status, target.text);
    if (target.kind === "rpc") return refuse(url, 400, "Bad Request");
    if (!isWebSocketUpgrade(request)) return text(UPGRADE_REQUIRED_TEXT, 426, { Upgrade: "websocket" });
    const origin = request.headers.get("Origin");
    if (!isOriginAllowed(config, origin)) {
      return refuse(url, 403, `Origin ${origin} is not allowed (ALLOWED_ORIGINS).`);
    }
    return env.ROOM.getByName(target.room).fetch(request);
  },
} satisfies ExportedHandler<Env>;
