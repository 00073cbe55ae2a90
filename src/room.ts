/**
 * The room Durable Object: one per room name, on the WebSocket Hibernation API. Counts come
 * from the runtime's list of live sockets, never from a field, so they are right after the
 * object is evicted and woken; per-socket data lives in attachments for the same reason.
 */
import { DurableObject } from "cloudflare:workers";
import type { BroadcastReport, ConnectionInfo, Message, RoomApi } from "../rpc/api";
import { readConfig } from "./config";
import {
  CLIENT_TAG,
  type ClientAttachment,
  clientAttachment,
  closeClient,
  closeQuietly,
  completeClose,
  connectionInfo,
  connectionTag,
  frame,
  isOpen,
  messageBytes,
  setClientAttachment,
  withinBytes,
} from "./connections";
import type { Env } from "./env";
import { log } from "./log";
import { CloseCode, PING_REQUEST, PING_RESPONSE, UPGRADE_REQUIRED_TEXT } from "./protocol";
import { TokenBuckets } from "./rate-limit";
import { reply } from "./replies";
import { acceptSubscriber, announce, EVENTS_PATH } from "./room-events";
import { isWebSocketUpgrade, parseFormat } from "./routes";

/** Seconds a client should wait before retrying a full room (RFC 9110 10.2.3 Retry-After). */
const FULL_ROOM_RETRY_AFTER_SECONDS = 5;

/**
 * How long a counted number of open sockets may be reused. Counting walks every socket of the
 * room (`getWebSockets` makes a wrapper for each), which made each reply O(N): at 500
 * connections a quarter of the docs example's throughput (npm run bench). The count is
 * recounted after every change the room sees (accept, close, error, a close of its own), and
 * at least this often, so a socket whose close the runtime never reports is not counted long.
 */
const COUNT_TTL_MS = 1_000;

export class Room extends DurableObject<Env> implements RoomApi {
  #buckets: TokenBuckets | undefined;
  /** Open sockets and all client sockets held (open or closing), counted at `at`. */
  #counted: { open: number; held: number; at: number } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime while the object sleeps: keep-alives never wake it.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_REQUEST, PING_RESPONSE));
  }

  /** Accepts an upgrade that the Worker has already routed and checked. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!isWebSocketUpgrade(request)) {
      return new Response(UPGRADE_REQUIRED_TEXT, { status: 426 });
    }
    if (url.pathname === EVENTS_PATH) return acceptSubscriber(this.ctx);

    const config = readConfig(this.env);
    const connections = this.#count();
    // Sockets the room closed whose peer never answers stay CLOSING: workerd has no close
    // timeout and no terminate(). They are not counted but they are held, so bound them too.
    const held = this.#counted?.held ?? connections;
    if (connections >= config.maxConnectionsPerRoom || held >= 2 * config.maxConnectionsPerRoom) {
      const reason =
        connections >= config.maxConnectionsPerRoom
          ? `Room is full: ${connections} connections, the limit (MAX_CONNECTIONS_PER_ROOM). Try again later.`
          : `Room is full: ${held - connections} closing sockets not yet released, twice the limit (MAX_CONNECTIONS_PER_ROOM). Try again later.`;
      log({ event: "refused", path: url.pathname, status: 503, reason });
      return new Response(reason, {
        status: 503,
        headers: { "Retry-After": String(FULL_ROOM_RETRY_AFTER_SECONDS) },
      });
    }

    const format = parseFormat(url.searchParams.get("format"));
    const attachment: ClientAttachment = {
      id: crypto.randomUUID(),
      connectedAt: Date.now(),
      format: typeof format === "string" ? format : "seed",
      origin: request.headers.get("Origin"),
    };
    const { 0: client, 1: server } = new WebSocketPair();
    // From 2026-03-17 (websocket_standard_binary_type) a socket's default binaryType is
    // "blob". webSocketMessage() got an ArrayBuffer either way in workerd 2026-11-03; saying so
    // keeps `reply()` byte-exact if that ever changes (test: "echoes binary as binary").
    server.binaryType = "arraybuffer";
    this.ctx.acceptWebSocket(server, [CLIENT_TAG, connectionTag(attachment.id)]);
    setClientAttachment(server, attachment);
    this.#counted = { open: connections + 1, held: held + 1, at: this.#counted?.at ?? Date.now() };
    log({ event: "open", room: this.#name(), id: attachment.id, format: attachment.format });
    announce(this.ctx, { type: "join", connections: connections + 1 });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = clientAttachment(ws);
    if (attachment === undefined || !isOpen(ws)) return;
    const config = readConfig(this.env);
    if (!withinBytes(message, config.maxMessageBytes)) {
      const size = messageBytes(message);
      return this.#refuse(
        ws,
        attachment,
        CloseCode.messageTooBig,
        `Message of ${size} bytes is over the limit of ${config.maxMessageBytes} bytes`,
      );
    }
    this.#buckets ??= new TokenBuckets(config.maxMessagesPerSecond, config.messageBurst);
    if (!this.#buckets.take(attachment.id)) {
      return this.#refuse(
        ws,
        attachment,
        CloseCode.policyViolation,
        `Rate limit: over ${config.maxMessagesPerSecond} messages per second (burst ${config.messageBurst})`,
      );
    }
    ws.send(reply(attachment.format, message, this.#count()));
  }

  /**
   * Completes the close handshake (RFC 6455 5.5.1) with `closeAnswer`: the client's code
   * echoed, 1000 for none, 1002 for a code no peer may send. The docs example calls
   * `close(code)` with whatever arrived and throws on 1005 (no code) and 1006 (abnormal end).
   * `web_socket_auto_reply_to_close` (default from 2026-04-07) did not answer for hibernatable
   * sockets in workerd 2026-11-03: the socket is still CLOSING here. `completeClose` skips a
   * socket the runtime already closed, so both behaviours are safe (test: "completes the
   * close with the client's code").
   */
  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    completeClose(ws, code, reason);
    this.#counted = undefined;
    const attachment = clientAttachment(ws);
    if (attachment === undefined) return;
    this.#buckets?.forget(attachment.id);
    log({ event: "close", room: this.#name(), id: attachment.id, code, reason, clean: wasClean });
    if (attachment.closing !== true) announce(this.ctx, { type: "leave", connections: this.#count() });
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.#counted = undefined;
    const attachment = clientAttachment(ws);
    if (attachment === undefined) return void closeQuietly(ws, CloseCode.internalError, "stream error");
    log({ event: "error", room: this.#name(), id: attachment.id, error: String(error) });
    this.#refuse(ws, attachment, CloseCode.internalError, "WebSocket error");
  }

  async getConnectionCount(): Promise<number> {
    return this.#count();
  }

  async listConnections(): Promise<ConnectionInfo[]> {
    return this.#open().flatMap((ws) => {
      const attachment = clientAttachment(ws);
      return attachment === undefined ? [] : [connectionInfo(attachment)];
    });
  }

  /** Each send in its own try: one broken socket is closed (1011) and never stops the rest. */
  async broadcast(message: Message, options?: { except?: string[] }): Promise<BroadcastReport> {
    const except = new Set(options?.except ?? []);
    const data = frame(message);
    const report: BroadcastReport = { delivered: 0, failed: 0, excluded: 0 };
    for (const ws of this.#open()) {
      const attachment = clientAttachment(ws);
      if (attachment === undefined) continue;
      if (except.has(attachment.id)) {
        report.excluded++;
        continue;
      }
      try {
        ws.send(data);
        report.delivered++;
      } catch {
        report.failed++;
        this.#close(ws, CloseCode.internalError, "send failed");
      }
    }
    announce(this.ctx, { type: "broadcast", data });
    return report;
  }

  async send(connectionId: string, message: Message): Promise<boolean> {
    const ws = this.#find(connectionId);
    if (ws === undefined) return false;
    try {
      ws.send(frame(message));
      return true;
    } catch {
      this.#close(ws, CloseCode.internalError, "send failed");
      return false;
    }
  }

  async disconnect(connectionId: string, code: number = CloseCode.normal, reason = ""): Promise<boolean> {
    const ws = this.#find(connectionId);
    if (ws === undefined) return false;
    return this.#close(ws, code, reason);
  }

  #refuse(ws: WebSocket, attachment: ClientAttachment, code: number, reason: string): void {
    if (attachment.closing === true) return;
    log({ event: "close", room: this.#name(), id: attachment.id, code, reason, clean: false });
    this.#buckets?.forget(attachment.id);
    this.#close(ws, code, reason);
  }

  /** Closes a client socket from our side: uncounted at once, its `leave` announced once. */
  #close(ws: WebSocket, code: number, reason: string): boolean {
    const closed = closeClient(ws, code, reason);
    this.#counted = undefined;
    announce(this.ctx, { type: "leave", connections: this.#count() });
    return closed;
  }

  #open(): WebSocket[] {
    return this.ctx.getWebSockets(CLIENT_TAG).filter(isOpen);
  }

  #count(): number {
    const now = Date.now();
    if (this.#counted === undefined || now - this.#counted.at > COUNT_TTL_MS) {
      const all = this.ctx.getWebSockets(CLIENT_TAG);
      this.#counted = { open: all.filter(isOpen).length, held: all.length, at: now };
    }
    return this.#counted.open;
  }

  #find(connectionId: string): WebSocket | undefined {
    return this.ctx.getWebSockets(connectionTag(connectionId)).find(isOpen);
  }

  /** The name given to `idFromName`, which the runtime keeps on the id. */
  #name(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }
}
