/**
 * Wire constants of the WebSocket server, each with its source.
 * @internal
 */

/** The reply line of Cloudflare's docs example; plain clients written for it parse this prefix. */
export const SEED_REPLY_PREFIX = "[Durable Object] currentlyConnectedWebSockets: ";

/** The docs example's answer to a request without an upgrade, kept byte for byte. */
export const UPGRADE_REQUIRED_TEXT = "Durable Object expected Upgrade: websocket";

/** The room that `/websocket` serves; `/rooms/default/websocket` is the same room. */
export const DEFAULT_ROOM = "default";

/** Room names: 1 to 64 characters of `A-Z a-z 0-9 . _ -` (safe in a URL path without escaping). */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** What a socket gets back for each message (query parameter `format`). */
export const REPLY_FORMATS = ["seed", "echo", "json"] as const;
export type ReplyFormat = (typeof REPLY_FORMATS)[number];

/** Keep-alive pair answered by the runtime without waking the object (setWebSocketAutoResponse). */
export const PING_REQUEST = "ping";
export const PING_RESPONSE = "pong";

/** Close codes (RFC 6455 section 7.4.1; 4000-4999 are private use). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

/**
 * Close codes a server may put on the wire. 1005, 1006 and 1015 only report what happened
 * and must never be sent (RFC 6455 7.4.1); 1004 is reserved; workerd throws
 * "Invalid WebSocket close code" for these and for anything outside 1000-4999.
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code) || code < 1000 || code > 4999) return false;
  return code !== 1004 && code !== 1005 && code !== 1006 && code !== 1015;
}

/**
 * Codes a peer may put in a close frame (RFC 6455 7.4.1, and 1012-1014 from the IANA
 * registry): 1000-1003, 1007-1014, 3000-4999. Anything else in a frame is a protocol error.
 */
export function isValidPeerCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * How we answer a close frame: the peer's code and reason echoed (RFC 6455 5.5.1), 1000 when
 * it sent no code (1005), and 1002 for a code no peer may send. workerd passes such codes to
 * webSocketClose unchecked (a workerd gap the hostile suite pins).
 */
export function closeAnswer(code: number, reason: string): { code: number; reason: string } {
  if (code === 1005) return { code: CloseCode.normal, reason: "" };
  if (isValidPeerCloseCode(code)) return { code, reason };
  return { code: CloseCode.protocolError, reason: `Invalid close code ${code} (RFC 6455 7.4)` };
}

/** Close-frame reason max UTF-8 bytes: 125 payload - 2-byte status (RFC 6455 5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Cuts a close reason to what fits in a close frame, never splitting a UTF-8 sequence. */
export function truncateCloseReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  // Back up over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
