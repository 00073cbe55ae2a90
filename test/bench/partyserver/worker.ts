/**
 * The seed's echo-with-count on PartyServer with hibernation: clients connect to
 * `/parties/echo-server/foo` (routePartykitRequest maps the `EchoServer` binding to
 * `echo-server`). The count is taken from the live connections, not a field, because a
 * field is lost when a hibernating object is evicted; the project's room counts the same way.
 * `POST` to the same path broadcasts the body with PartyServer's `broadcast()` (bench case 4).
 */
import { type Connection, routePartykitRequest, Server } from "partyserver";

export class EchoServer extends Server {
  static override options = { hibernate: true };

  override onMessage(connection: Connection): void {
    let count = 0;
    for (const _ of this.getConnections()) count++;
    connection.send(`[Durable Object] currentlyConnectedWebSockets: ${count}`);
  }

  /** For the bench's broadcast-500: `POST /parties/echo-server/foo` broadcasts its body. */
  override async onRequest(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response("Method Not Allowed", { status: 405 });
    this.broadcast(await request.text());
    let delivered = 0;
    for (const _ of this.getConnections()) delivered++;
    return Response.json({ delivered });
  }
}

export default {
  async fetch(request): Promise<Response> {
    // routePartykitRequest reads the bindings from `env` of cloudflare:workers.
    return (await routePartykitRequest(request)) ?? new Response("Bad Request", { status: 400 });
  },
} satisfies ExportedHandler;
