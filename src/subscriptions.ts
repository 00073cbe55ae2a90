/**
 * capnweb subscriptions, held by the Worker that holds the session. Each one is a WebSocket
 * from this Worker to the room's event stream (src/room-events.ts): the room can hibernate
 * between events, and no stub of ours lives inside it.
 * @internal
 */
import { RpcTarget } from "cloudflare:workers";
import type { RoomEvent, Subscription as SubscriptionApi } from "../rpc/api";
import type { Env } from "./env";
import { EVENTS_PATH, parseSignal } from "./room-events";

/** The listener as capnweb hands it over: a callable stub that we must `dup()` to keep. */
export interface ListenerStub {
  (event: RoomEvent): unknown;
  dup(): ListenerStub;
  onRpcBroken(callback: (error: unknown) => void): void;
  [Symbol.dispose](): void;
}

export function isListenerStub(value: unknown): value is ListenerStub {
  return typeof value === "function" && typeof (value as Partial<ListenerStub>).dup === "function";
}

export class Subscription extends RpcTarget implements SubscriptionApi {
  readonly room: string;
  readonly #socket: WebSocket;
  readonly #listener: ListenerStub;
  readonly #onEnd: (subscription: Subscription) => void;
  #ended = false;

  private constructor(room: string, socket: WebSocket, listener: ListenerStub, onEnd: (s: Subscription) => void) {
    super();
    this.room = room;
    this.#socket = socket;
    this.#listener = listener;
    this.#onEnd = onEnd;
    socket.addEventListener("message", (event) => this.#deliver(event.data as string | ArrayBuffer));
    socket.addEventListener("close", () => this.end());
    socket.addEventListener("error", () => this.end());
    listener.onRpcBroken(() => this.end());
  }

  /** Opens the room's event stream; resolves once the room has accepted it (the subscription is live). */
  static async open(
    env: Env,
    room: string,
    listener: ListenerStub,
    onEnd: (s: Subscription) => void,
  ): Promise<Subscription> {
    const response = await env.ROOM.getByName(room).fetch(`https://room${EVENTS_PATH}`, {
      headers: { Upgrade: "websocket" },
    });
    const socket = response.webSocket;
    if (socket === null) throw new Error(`room ${room} refused its event stream (${response.status})`);
    socket.binaryType = "arraybuffer";
    socket.accept();
    return new Subscription(room, socket, listener.dup(), onEnd);
  }

  async unsubscribe(): Promise<void> {
    this.end();
  }

  /** Called by capnweb when the client disposes its last stub of this subscription. */
  [Symbol.dispose](): void {
    this.end();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#socket.close(1000, "unsubscribed");
    } catch {
      // The room already closed the stream: nothing left to close.
    }
    this.#listener[Symbol.dispose]();
    this.#onEnd(this);
  }

  #deliver(data: string | ArrayBuffer): void {
    if (this.#ended) return;
    const signal = parseSignal(data);
    if (signal === undefined) return;
    const event: RoomEvent = { ...signal, room: this.room };
    // A listener that throws or whose client is gone ends its subscription, never the room.
    Promise.resolve()
      .then(() => this.#listener(event))
      .catch(() => this.end());
  }
}
