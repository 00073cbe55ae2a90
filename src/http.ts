/**
 * The Worker's HTTP handling, shared by the default export and the service entrypoint's
 * `fetch` (so `/websocket` works through a service binding too).
 * @internal
 */
import { type Config, ConfigError, isOriginAllowed, readConfig } from "./config";
import type { Env } from "./env";
import { log } from "./log";
import { UPGRADE_REQUIRED_TEXT } from "./protocol";
import { text } from "./responses";
import { isWebSocketUpgrade, route } from "./routes";
import { handleRpc } from "./rpc-endpoint";

function refuse(url: URL, status: number, reason: string): Response {
  log({ event: "refused", path: url.pathname, status, reason });
  return text(reason, status);
}

export async function handleRequest(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  let config: Config;
  try {
    config = readConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return refuse(url, 500, error.message);
    throw error;
  }
  const target = route(url);
  if (target.kind === "invalid") return refuse(url, target.status, target.text);
  if (target.kind === "rpc") return handleRpc(request, env, config);
  if (!isWebSocketUpgrade(request)) return text(UPGRADE_REQUIRED_TEXT, 426, { Upgrade: "websocket" });
  const origin = request.headers.get("Origin");
  if (!isOriginAllowed(config, origin)) {
    return refuse(url, 403, `Origin ${origin} is not allowed (ALLOWED_ORIGINS).`);
  }
  // getByName is idFromName + get: one Durable Object per room name.
  return env.ROOM.getByName(target.room).fetch(request);
}
