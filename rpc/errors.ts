/**
 * Errors every transport can carry. Workers RPC and capnweb both keep an error's message
 * but not its custom fields, so the code travels as a `[code]` prefix of the message and
 * `errorCode()` reads it back on the caller's side.
 */

export const ErrorCode = {
  /** An argument has the wrong type or shape. */
  invalidArgument: "invalid_argument",
  /** A room name outside 1-64 characters of `A-Z a-z 0-9 . _ -`. */
  invalidRoom: "invalid_room",
  /** A message larger than the configured limit. */
  tooLarge: "too_large",
  /** A method that needs `authenticate(token)` first. */
  unauthenticated: "unauthenticated",
  /** A wrong token, or no token configured on the server. */
  forbidden: "forbidden",
  /** A per-session cap (subscriptions, pending calls) was reached. */
  limitExceeded: "limit_exceeded",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES = new Set<string>(Object.values(ErrorCode));
const PREFIX = /^\[([a-z_]+)\] /;

/** Builds an error whose message starts with `[code] `, readable by `errorCode()`. */
export function apiError(code: ErrorCode, message: string): Error {
  return new Error(`[${code}] ${message}`);
}

/** The code of an error raised by the API, on any transport; undefined for other errors. */
export function errorCode(error: unknown): ErrorCode | undefined {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  const code = PREFIX.exec(message)?.[1];
  return code !== undefined && CODES.has(code) ? (code as ErrorCode) : undefined;
}
