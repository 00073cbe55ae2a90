/**
 * An example caller: HTTP routes over the typed facade, everything else forwarded to the
 * server Worker through the same binding. This Worker adds no checks of its own: do not
 * deploy routes like these publicly without your own authentication (see the README).
 */
import { errorCode } from "../../../rpc/errors";
import type { RoomsBinding } from "../../../rpc/service-binding";

interface Env {
  WS: RoomsBinding;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

/** Maps the facade's typed errors to HTTP: bad input is the caller's fault (4xx). */
function failure(error: unknown): Response {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const status = code === "too_large" ? 413 : code === undefined ? 500 : 400;
  return json({ error: code ?? "internal", message }, status);
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    const room = url.searchParams.get("room") ?? undefined;
    try {
      if (url.pathname === "/count" && request.method === "GET") {
        const connections = await env.WS.getConnectionCount(room);
        return json({ room: room ?? "default", connections });
      }
      if (url.pathname === "/broadcast" && request.method === "POST") {
        const message = await request.text();
        const { delivered } = await env.WS.broadcast(message, { room });
        return json({ delivered });
      }
    } catch (error) {
      return failure(error);
    }
    return env.WS.fetch(request);
  },
} satisfies ExportedHandler<Env>;
