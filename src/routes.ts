/**
 * URL routing of the Worker, as pure functions so that tests can read them as a table.
 * @internal
 */
import { DEFAULT_ROOM, REPLY_FORMATS, type ReplyFormat, ROOM_NAME_PATTERN } from "./protocol";

export type Route =
  | { kind: "socket"; room: string; format: ReplyFormat }
  | { kind: "rpc" }
  | { kind: "invalid"; status: 400; text: string };

const ROOM_SOCKET_PATH = /^\/rooms\/([^/]*)\/websocket$/;

/** Why a room name is refused, or undefined when it is valid. */
export function roomNameProblem(name: string): string | undefined {
  if (ROOM_NAME_PATTERN.test(name)) return undefined;
  return "Invalid room name: use 1 to 64 characters of A-Z a-z 0-9 . _ -";
}

/** Why a `format` value is refused, or undefined when it is valid (absent means `seed`). */
export function parseFormat(value: string | null): ReplyFormat | { problem: string } {
  if (value === null) return "seed";
  if ((REPLY_FORMATS as readonly string[]).includes(value)) return value as ReplyFormat;
  return { problem: `Invalid format: use one of ${REPLY_FORMATS.join(", ")}` };
}

/**
 * Matches on the path alone, so a query string never breaks a route (the docs example's
 * `url.endsWith("/websocket")` does). Room and format are checked before the upgrade header,
 * so a bad name is 400 whether or not the request is an upgrade.
 */
export function route(url: URL): Route {
  if (url.pathname === "/rpc") return { kind: "rpc" };
  let room: string;
  if (url.pathname === "/websocket") {
    room = DEFAULT_ROOM;
  } else {
    const match = ROOM_SOCKET_PATH.exec(url.pathname);
    if (match === null) return { kind: "invalid", status: 400, text: "Bad Request" };
    room = match[1] ?? "";
    const problem = roomNameProblem(room);
    if (problem !== undefined) return { kind: "invalid", status: 400, text: problem };
  }
  const format = parseFormat(url.searchParams.get("format"));
  if (typeof format !== "string") return { kind: "invalid", status: 400, text: format.problem };
  return { kind: "socket", room, format };
}

/** Upgrade headers are case-insensitive tokens (RFC 7230 6.7), e.g. `WebSocket`. */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get("Upgrade")?.trim().toLowerCase() === "websocket";
}
