/**
 * What the room keeps per socket, stored with `serializeAttachment` so it survives
 * hibernation, and the socket helpers the room shares.
 * @internal
 */
import type { ConnectionInfo, Message, ReplyFormat } from "../rpc/api";
import { closeAnswer, isSendableCloseCode, truncateCloseReason } from "./protocol";

/** Tag of sockets opened by clients (the ones counted). */
export const CLIENT_TAG = "client";
/** Tag of event streams to Workers holding capnweb subscriptions (never counted). */
export const SUBSCRIBER_TAG = "subscriber";

export interface ClientAttachment {
  id: string;
  connectedAt: number;
  format: ReplyFormat;
  origin: string | null;
  /** Set when the room itself started the close, so that `leave` is announced once. */
  closing?: true;
}

/**
 * Attachments already read, by socket: `deserializeAttachment()` structured-clones on every
 * call, once per message otherwise. The runtime hands the same WebSocket object to every
 * event while the object lives; after hibernation the map starts empty and refills.
 */
const attachments = new WeakMap<WebSocket, ClientAttachment | null>();

export function clientAttachment(ws: WebSocket): ClientAttachment | undefined {
  let cached = attachments.get(ws);
  if (cached === undefined) {
    const value: unknown = ws.deserializeAttachment();
    cached = typeof value === "object" && value !== null && "id" in value ? (value as ClientAttachment) : null;
    attachments.set(ws, cached);
  }
  return cached ?? undefined;
}

/** Stores the attachment with the socket (for hibernation) and in the cache. */
export function setClientAttachment(ws: WebSocket, attachment: ClientAttachment): void {
  ws.serializeAttachment(attachment);
  attachments.set(ws, attachment);
}

export function connectionInfo(attachment: ClientAttachment): ConnectionInfo {
  const { id, connectedAt, format, origin } = attachment;
  return { id, connectedAt, metadata: { format, origin } };
}

/** The tag under which `getWebSockets()` finds one connection without a scan. */
export function connectionTag(id: string): string {
  return `id:${id}`;
}

/** A socket counts while OPEN only: one still CLOSING is no longer connected. */
export function isOpen(ws: WebSocket): boolean {
  return ws.readyState === WebSocket.OPEN;
}

/**
 * Closes without throwing: the code is replaced by 1000 when it may not be sent (1005, 1006,
 * 1015 ...), the reason is cut to 123 bytes, and a socket already closed is left alone.
 * Returns whether a close frame was sent.
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): boolean {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return false;
  try {
    ws.close(isSendableCloseCode(code) ? code : 1000, truncateCloseReason(reason));
    return true;
  } catch {
    // The peer went away between the state check and close(): nothing left to close.
    return false;
  }
}

/**
 * Answers a close frame the peer sent (see `closeAnswer`). The socket is CLOSING here whoever
 * started, so unlike `closeQuietly` this tries anyway; if we had already sent our close,
 * close() throws and the handshake is complete regardless.
 */
export function completeClose(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  const answer = closeAnswer(code, reason);
  try {
    ws.close(answer.code, truncateCloseReason(answer.reason));
  } catch {
    // Our own close frame went out first: the handshake needs nothing more.
  }
}

/** Marks a client socket as closed by the room, then closes it. */
export function closeClient(ws: WebSocket, code: number, reason: string): boolean {
  const attachment = clientAttachment(ws);
  if (attachment !== undefined && attachment.closing !== true) {
    setClientAttachment(ws, { ...attachment, closing: true });
  }
  return closeQuietly(ws, code, reason);
}

/** Bytes as a view the runtime accepts for a binary frame; text stays text. */
export function frame(message: Message): string | Uint8Array {
  if (typeof message === "string") return message;
  return message instanceof Uint8Array ? message : new Uint8Array(message);
}

/** Size of a message on the wire: UTF-8 bytes of text, length of bytes. */
export function messageBytes(message: string | ArrayBuffer | ArrayBufferView): number {
  if (typeof message === "string") return utf8Length(message);
  return message.byteLength;
}

/** Whether a message is within `max` bytes; text of at most max/3 UTF-16 units always is. */
export function withinBytes(message: string | ArrayBuffer, max: number): boolean {
  if (typeof message === "string" && message.length * 3 <= max) return true;
  return messageBytes(message) <= max;
}

/** UTF-8 length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
