/**
 * `/rpc`: capnweb over WebSocket and HTTP batch, from the stateless Worker (capnweb sessions
 * cannot hibernate, so they stay out of the rooms). capnweb caps message size and depth but
 * not how much one client makes the server hold, so this module adds those caps.
 * @internal
 */
import { newHttpBatchRpcResponse, RpcSession } from "capnweb";
import { endSession, PublicRpc } from "./capnweb";
import { type Config, isOriginAllowed } from "./config";
import { utf8Length } from "./connections";
import type { Env } from "./env";
import { log } from "./log";
import { text } from "./responses";
import { isWebSocketUpgrade } from "./routes";
import { GuardedTransport } from "./session-transport";

/**
 * Largest capnweb message: room for a MAX_MESSAGE_BYTES payload after JSON escaping or base64
 * (up to 2x) plus the call around it, so anything a socket may be sent fits in one call.
 */
export function maxRpcMessageBytes(config: Config): number {
  return 2 * config.maxMessageBytes + 16_384;
}

/** Largest HTTP batch body, and most messages (lines) in one batch. */
export const MAX_BATCH_BYTES = 1_048_576;
export const MAX_BATCH_MESSAGES = 128;

export async function handleRpc(request: Request, env: Env, config: Config): Promise<Response> {
  const origin = request.headers.get("Origin");
  if (!isOriginAllowed(config, origin)) {
    log({ event: "refused", path: "/rpc", status: 403, reason: "origin not allowed" });
    return text(`Origin ${origin} is not allowed (ALLOWED_ORIGINS).`, 403);
  }
  const cors = corsHeaders(config, origin);
  if (request.method === "OPTIONS") {
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "86400",
      },
    });
  }
  if (isWebSocketUpgrade(request)) return webSocketSession(env, config);
  if (request.method === "POST") return batchSession(request, env, config, cors);
  return text("The /rpc endpoint takes a WebSocket upgrade or an HTTP batch POST (capnweb).", 405, {
    Allow: "POST",
    ...cors,
  });
}

/** capnweb answers `Access-Control-Allow-Origin: *`; we answer only what ALLOWED_ORIGINS allows. */
function corsHeaders(config: Config, origin: string | null): Record<string, string> {
  if (origin === null) return {};
  return { "Access-Control-Allow-Origin": config.allowedOrigins === "*" ? "*" : origin, Vary: "Origin" };
}

function webSocketSession(env: Env, config: Config): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  const api = new PublicRpc(env);
  const maxBytes = maxRpcMessageBytes(config);
  const transport = new GuardedTransport(server, maxBytes, () => api[endSession]());
  transport.session = new RpcSession(transport, api, { limits: { maxMessageSize: maxBytes } });
  return new Response(null, { status: 101, webSocket: client });
}

async function batchSession(
  request: Request,
  env: Env,
  config: Config,
  cors: Record<string, string>,
): Promise<Response> {
  const body = await readBounded(request, MAX_BATCH_BYTES);
  if (body === undefined) return text(`Batch body is over the limit of ${MAX_BATCH_BYTES} bytes.`, 413, cors);
  const messages = body === "" ? [] : body.split("\n");
  if (messages.length > MAX_BATCH_MESSAGES) {
    return text(`Batch of ${messages.length} messages is over the limit of ${MAX_BATCH_MESSAGES}.`, 413, cors);
  }
  const maxBytes = maxRpcMessageBytes(config);
  const largest = Math.max(0, ...messages.map(utf8Length));
  if (largest > maxBytes) {
    return text(`Batch message of ${largest} bytes is over the limit of ${maxBytes} bytes.`, 413, cors);
  }
  const api = new PublicRpc(env);
  try {
    const response = await newHttpBatchRpcResponse(new Request(request.url, { method: "POST", body }), api, {
      limits: { maxMessageSize: maxBytes },
    });
    for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
    if (!("Access-Control-Allow-Origin" in cors)) response.headers.delete("Access-Control-Allow-Origin");
    return response;
  } catch (error) {
    // capnweb rejects a batch it cannot read (not JSON, an unknown message or id, nesting over
    // its depth limit): the client's mistake, answered 400 with capnweb's reason, never a throw.
    const reason = (error instanceof Error ? error.message : String(error)).slice(0, 300);
    log({ event: "refused", path: "/rpc", status: 400, reason: "malformed capnweb batch" });
    return text(`Malformed capnweb batch: ${reason}`, 400, cors);
  } finally {
    // A batch is a whole session: subscriptions made in it end with it.
    api[endSession]();
  }
}

/** The body as text, or undefined when it is longer than `limit` bytes (read no further). */
async function readBounded(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit || request.body === null) return declared > limit ? undefined : "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) bytes.set(chunk, offset), (offset += chunk.byteLength);
  return new TextDecoder().decode(bytes);
}
