/**
 * capnweb clients inside workerd, reaching the Worker through its real fetch handler: a
 * WebSocket session over an upgrade from `exports.default.fetch`, and HTTP batch sessions
 * whose POST goes to the same handler.
 */

import { exports } from "cloudflare:workers";
import { newWebSocketRpcSession, RpcSession, type RpcStub, type RpcTransport } from "capnweb";
import type { PublicApi } from "../../rpc/api";
import { BASE } from "./sockets";

export async function wsSession(headers?: Record<string, string>): Promise<{ api: RpcStub<PublicApi>; ws: WebSocket }> {
  const response = await exports.default.fetch(`${BASE}/rpc`, { headers: { Upgrade: "websocket", ...headers } });
  const ws = response.webSocket;
  if (ws === null) throw new Error(`no upgrade: ${response.status} ${await response.text()}`);
  ws.accept();
  return { api: newWebSocketRpcSession<PublicApi>(ws), ws };
}

/**
 * capnweb's batch client, with the POST sent to `exports.default.fetch` instead of the
 * network: every message written before the first await goes in one request.
 */
class FetchBatchTransport implements RpcTransport {
  readonly #outgoing: string[] = [];
  #incoming: Promise<string[]>;
  #done = false;

  constructor(onRequest: () => void) {
    this.#incoming = new Promise<void>((r) => setTimeout(r, 0)).then(async () => {
      this.#done = true;
      onRequest();
      const response = await exports.default.fetch(`${BASE}/rpc`, { method: "POST", body: this.#outgoing.join("\n") });
      if (!response.ok) throw new Error(`batch failed: ${response.status} ${await response.text()}`);
      const body = await response.text();
      return body === "" ? [] : body.split("\n");
    });
  }

  send(message: string): void {
    // Like capnweb's own batch client: what comes after the request (releases) is dropped.
    if (!this.#done) this.#outgoing.push(message);
  }

  async receive(): Promise<string> {
    const messages = await this.#incoming;
    const next = messages.shift();
    if (next === undefined) throw new Error("batch ended");
    return next;
  }

  abort(): void {}
}

/** A batch session; `requests()` says how many HTTP requests it has made (one per batch). */
export function batchSession(): { api: RpcStub<PublicApi>; requests: () => number } {
  let requests = 0;
  const session = new RpcSession<PublicApi>(new FetchBatchTransport(() => requests++));
  return { api: session.getRemoteMain(), requests: () => requests };
}
