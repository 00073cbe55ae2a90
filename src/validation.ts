/**
 * Run-time checks of every argument that crosses a trust boundary (service binding or
 * capnweb): types are erased at run time, so a caller can send anything. One set of schemas
 * serves both facades. Failures become `[code] message` errors (rpc/errors.ts).
 * @internal
 */
import * as v from "valibot";
import type { Message } from "../rpc/api";
import { apiError, ErrorCode } from "../rpc/errors";
import { messageBytes } from "./connections";
import { DEFAULT_ROOM, MAX_CLOSE_REASON_BYTES, ROOM_NAME_PATTERN } from "./protocol";

/** Connection ids are UUIDs; 64 leaves room for other schemes without admitting junk. */
const MAX_CONNECTION_ID_LENGTH = 64;
/** `except` lists at most this many ids: more than a room could sensibly hold. */
export const MAX_EXCEPT_IDS = 10_000;

const RoomName = v.pipe(
  v.string("room must be a string"),
  v.regex(ROOM_NAME_PATTERN, "room must be 1 to 64 characters of A-Z a-z 0-9 . _ -"),
);
const ConnectionId = v.pipe(
  v.string("connection id must be a string"),
  v.minLength(1, "connection id must not be empty"),
  v.maxLength(MAX_CONNECTION_ID_LENGTH, `connection id must be at most ${MAX_CONNECTION_ID_LENGTH} characters`),
);
const MessageSchema = v.union(
  [v.string(), v.instance(ArrayBuffer), v.instance(Uint8Array)],
  "message must be a string, an ArrayBuffer or a Uint8Array",
);
/** Codes an application may send: 1000, or 3000-4999 (registered and private; RFC 6455 7.4.2). */
const CloseCodeSchema = v.pipe(
  v.number("code must be a number"),
  v.integer("code must be an integer"),
  v.check((c) => c === 1000 || (c >= 3000 && c <= 4999), "code must be 1000 or 3000-4999"),
);
const ReasonSchema = v.pipe(
  v.string("reason must be a string"),
  v.maxBytes(MAX_CLOSE_REASON_BYTES, `reason must be at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`),
);
const ExceptSchema = v.pipe(
  v.array(ConnectionId, "except must be an array of connection ids"),
  v.maxLength(MAX_EXCEPT_IDS, `except must list at most ${MAX_EXCEPT_IDS} ids`),
);
const BroadcastOptionsSchema = v.strictObject(
  { room: v.optional(v.unknown()), except: v.optional(v.unknown()) },
  "options must be an object with only room and except",
);

function parse<S extends v.GenericSchema>(schema: S, value: unknown, code: ErrorCode): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  throw apiError(code, result.issues[0]?.message ?? "invalid argument");
}

/** A room name, or the default room when left out. */
export function roomArg(value: unknown): string {
  if (value === undefined) return DEFAULT_ROOM;
  return parse(RoomName, value, ErrorCode.invalidRoom);
}

export function connectionIdArg(value: unknown): string {
  return parse(ConnectionId, value, ErrorCode.invalidArgument);
}

export function messageArg(value: unknown, maxBytes: number): Message {
  const message = parse(MessageSchema, value, ErrorCode.invalidArgument);
  const size = messageBytes(message);
  if (size > maxBytes) {
    throw apiError(
      ErrorCode.tooLarge,
      `message of ${size} bytes is over the limit of ${maxBytes} bytes (MAX_MESSAGE_BYTES)`,
    );
  }
  return message;
}

export function closeArgs(code: unknown, reason: unknown): { code: number; reason: string } {
  return {
    code: code === undefined ? 1000 : parse(CloseCodeSchema, code, ErrorCode.invalidArgument),
    reason: reason === undefined ? "" : parse(ReasonSchema, reason, ErrorCode.invalidArgument),
  };
}

export function broadcastOptionsArg(value: unknown): { room: string; except: string[] } {
  if (value === undefined) return { room: DEFAULT_ROOM, except: [] };
  const options = parse(BroadcastOptionsSchema, value, ErrorCode.invalidArgument);
  return {
    room: roomArg(options.room),
    except: options.except === undefined ? [] : parse(ExceptSchema, options.except, ErrorCode.invalidArgument),
  };
}

const RoomBroadcastOptionsSchema = v.strictObject(
  { except: v.optional(ExceptSchema) },
  "options must be an object with only except",
);

/** The `except` ids of a room's own `broadcast(message, { except })`. */
export function roomBroadcastOptionsArg(value: unknown): string[] {
  if (value === undefined) return [];
  return parse(RoomBroadcastOptionsSchema, value, ErrorCode.invalidArgument).except ?? [];
}
