/**
 * Room events for capnweb subscriptions. The room pushes them over hibernatable WebSockets
 * (tag "subscriber") to the Workers holding the sessions, so a subscription never pins the
 * room awake and no RPC stub has to outlive an eviction. On these sockets a text frame is
 * JSON (`join`, `leave`, or a text `broadcast`); a binary frame is a broadcast of bytes.
 * @internal
 */
import { closeQuietly, SUBSCRIBER_TAG } from "./connections";

/** Path of the room's internal event stream; the Worker never routes a client here. */
export const EVENTS_PATH = "/__events";

export type RoomSignal =
  | { type: "join" | "leave"; connections: number }
  | { type: "broadcast"; data: string | Uint8Array };

export function acceptSubscriber(ctx: DurableObjectState): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  ctx.acceptWebSocket(server, [SUBSCRIBER_TAG]);
  return new Response(null, { status: 101, webSocket: client });
}

/** Sends a signal to every subscriber stream; a stream that fails is closed, never retried. */
export function announce(ctx: DurableObjectState, signal: RoomSignal): void {
  const streams = ctx.getWebSockets(SUBSCRIBER_TAG);
  if (streams.length === 0) return;
  const wire = signal.type === "broadcast" && typeof signal.data !== "string" ? signal.data : JSON.stringify(signal);
  for (const ws of streams) {
    if (ws.readyState !== WebSocket.OPEN) continue;
    try {
      ws.send(wire);
    } catch {
      closeQuietly(ws, 1011, "event stream failed");
    }
  }
}

/** Reads a frame of the event stream back into a signal, on the Worker's side. */
export function parseSignal(data: string | ArrayBuffer): RoomSignal | undefined {
  if (typeof data !== "string") return { type: "broadcast", data: new Uint8Array(data) };
  try {
    const value = JSON.parse(data) as RoomSignal;
    return typeof value === "object" && value !== null && "type" in value ? value : undefined;
  } catch {
    // Only the room writes this stream; a frame we cannot read is dropped, not fatal.
    return undefined;
  }
}
