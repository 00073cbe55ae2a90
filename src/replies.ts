/**
 * The reply a socket gets for each message, by the `format` it chose when it connected.
 * @internal
 */
import type { ReplyFormat } from "../rpc/api";
import { SEED_REPLY_PREFIX } from "./protocol";

/**
 * `seed`: the docs example's line. `echo`: the message itself, text as text and bytes as
 * bytes. `json`: `{"connections":N,"echo":m}` for text, and for bytes
 * `{"connections":N,"echoBase64":"..."}`, since JSON has no bytes and base64 keeps them exact.
 */
export function reply(format: ReplyFormat, message: string | ArrayBuffer, connections: number): string | ArrayBuffer {
  switch (format) {
    case "seed":
      return SEED_REPLY_PREFIX + connections;
    case "echo":
      return message;
    case "json":
      return typeof message === "string"
        ? JSON.stringify({ connections, echo: message })
        : JSON.stringify({ connections, echoBase64: toBase64(new Uint8Array(message)) });
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
