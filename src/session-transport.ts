/**
 * The transport of a capnweb WebSocket session, with the caps capnweb leaves to its users.
 * @internal
 */
import { type RpcSession, type RpcTransport, WebSocketTransport } from "capnweb";
import { utf8Length } from "./connections";
import { log } from "./log";
import { CloseCode, truncateCloseReason } from "./protocol";

/** Calls a session may have in flight or un-disposed at once (capnweb export-table entries). */
export const MAX_SESSION_CALLS = 256;

/**
 * capnweb's WebSocket transport plus the caps capnweb leaves to us: an oversized message
 * closes the socket with 1009, and more than MAX_SESSION_CALLS calls held at once with 1008,
 * each with a reason the client can read. Throwing from receive() aborts the session.
 */
export class GuardedTransport implements RpcTransport {
  session: RpcSession | undefined;
  readonly #socket: WebSocket;
  readonly #inner: WebSocketTransport;
  readonly #maxBytes: number;
  #closed = false;

  constructor(socket: WebSocket, maxBytes: number, onEnd: () => void) {
    this.#socket = socket;
    this.#inner = new WebSocketTransport(socket);
    this.#maxBytes = maxBytes;
    socket.addEventListener("close", onEnd);
    socket.addEventListener("error", onEnd);
  }

  send(message: string): void {
    this.#inner.send(message);
  }

  async receive(): Promise<string> {
    const message = await this.#inner.receive();
    const size = utf8Length(message);
    if (size > this.#maxBytes) {
      this.#refuse(
        CloseCode.messageTooBig,
        `capnweb message of ${size} bytes is over the limit of ${this.#maxBytes} bytes`,
      );
    }
    const held = this.session?.getStats().exports ?? 0;
    if (held > MAX_SESSION_CALLS) {
      this.#refuse(
        CloseCode.policyViolation,
        `over ${MAX_SESSION_CALLS} calls in flight or not disposed in this session`,
      );
    }
    return message;
  }

  abort(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inner.abort(reason);
  }

  #refuse(code: number, reason: string): never {
    if (!this.#closed) {
      this.#closed = true;
      log({ event: "refused", path: "/rpc", status: code, reason });
      try {
        this.#socket.close(code, truncateCloseReason(reason));
      } catch {
        // The client is already gone: the session ends either way.
      }
    }
    throw new Error(reason);
  }
}
