/**
 * Typed capnweb clients for browsers and Node: one generic call each over the server's API,
 * importing no server code.
 *
 *   using api = connect("https://example.com");            // WebSocket session
 *   await api.getConnectionCount("lobby");
 *   await api.authenticate(token).broadcast("hi", { room: "lobby" }); // one round trip
 */
import { newHttpBatchRpcSession, newWebSocketRpcSession, type RpcStub } from "capnweb";
import type { PublicApi, RoomEvent } from "./api.ts";

export type { BroadcastReport, ConnectionInfo, PublicApi, RoomEvent, RoomsApi } from "./api.ts";
export { ErrorCode, errorCode } from "./errors.ts";

/** The `/rpc` URL of a server, from its base URL (http(s) or ws(s)); a URL already ending in /rpc is kept. */
export function rpcUrl(server: string | URL, scheme: "ws" | "http"): string {
  const url = new URL(server);
  if (!url.pathname.endsWith("/rpc")) url.pathname = `${url.pathname.replace(/\/$/, "")}/rpc`;
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  url.protocol = scheme === "ws" ? (secure ? "wss:" : "ws:") : secure ? "https:" : "http:";
  return url.toString();
}

/** A WebSocket session: calls, pipelining and subscriptions. Dispose it to close the socket. */
export function connect(server: string | URL): RpcStub<PublicApi> {
  return newWebSocketRpcSession<PublicApi>(rpcUrl(server, "ws"));
}

/**
 * An HTTP batch session: every call made before the first `await` goes in one request.
 * A batch stub is good for one batch; make a new one for the next.
 */
export function batch(server: string | URL): RpcStub<PublicApi> {
  return newHttpBatchRpcSession<PublicApi>(rpcUrl(server, "http"));
}

export interface WatchOptions {
  /** Wait before reconnecting after a drop, in ms (doubles up to 30 s). */
  retryMs?: number;
  /** Told about each drop, e.g. to show "reconnecting". */
  onDrop?: (error: unknown) => void;
  /** Told each time the subscription is live again. */
  onLive?: () => void;
}

/**
 * Subscribes to a room and keeps the subscription alive: when the session drops, it
 * reconnects and subscribes again, so the listener goes on hearing events. Returns a
 * function that stops it. Events that happen while disconnected are not replayed.
 */
export function watchRoom(
  server: string | URL,
  room: string | undefined,
  listener: (event: RoomEvent) => void,
  options: WatchOptions = {},
): () => void {
  const base = options.retryMs ?? 500;
  let delay = base;
  let stopped = false;
  let session: RpcStub<PublicApi> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const retry = (error: unknown) => {
    session?.[Symbol.dispose]();
    session = undefined;
    if (stopped) return;
    options.onDrop?.(error);
    timer = setTimeout(start, delay);
    delay = Math.min(delay * 2, 30_000);
  };
  const start = () => {
    if (stopped) return;
    const api = connect(server);
    session = api;
    let broken = false;
    api.onRpcBroken((error) => {
      if (broken || session !== api) return;
      broken = true;
      retry(error);
    });
    api.subscribe(room, listener).then(
      () => {
        delay = base;
        options.onLive?.();
      },
      (error: unknown) => {
        if (broken || session !== api) return;
        broken = true;
        retry(error);
      },
    );
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    session?.[Symbol.dispose]();
    session = undefined;
  };
}
