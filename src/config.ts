/**
 * Limits and origins from `vars` in wrangler.jsonc (or `--var`), read once per isolate.
 * An invalid value is never ignored: `readConfig` throws a ConfigError naming the variable,
 * and the Worker answers 500 with that text on the first request.
 * @internal
 */
import * as v from "valibot";
import type { Env } from "./env";

export interface Config {
  /** `*` allows every origin; otherwise the exact origins allowed (browsers only send one). */
  allowedOrigins: "*" | ReadonlySet<string>;
  maxMessageBytes: number;
  maxConnectionsPerRoom: number;
  maxMessagesPerSecond: number;
  messageBurst: number;
}

export const DEFAULTS = {
  /** Cloudflare's own WebSocket message limit is 32 MiB; a chat-sized default keeps rooms cheap. */
  maxMessageBytes: 65_536,
  maxConnectionsPerRoom: 10_000,
  maxMessagesPerSecond: 50,
  messageBurst: 100,
} as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const positiveInt = v.pipe(v.string(), v.trim(), v.regex(/^\d+$/), v.transform(Number), v.integer(), v.minValue(1));
/** An origin is scheme://host[:port] and nothing more: what browsers send in `Origin`. */
const origin = v.pipe(
  v.string(),
  v.check((s) => URL.canParse(s) && new URL(s).origin === s, "not an origin"),
);

function intVar(env: Env, name: keyof Env & string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const parsed = v.safeParse(positiveInt, String(raw));
  if (!parsed.success) {
    throw new ConfigError(`Invalid ${name}=${JSON.stringify(raw)}: expected a whole number of at least 1.`);
  }
  return parsed.output;
}

function originsVar(raw: string | undefined): Config["allowedOrigins"] {
  if (raw === undefined || raw.trim() === "" || raw.trim() === "*") return "*";
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const item of list) {
    if (!v.safeParse(origin, item).success) {
      throw new ConfigError(
        `Invalid ALLOWED_ORIGINS entry ${JSON.stringify(item)}: expected "*" or comma-separated origins like https://example.com.`,
      );
    }
  }
  return new Set(list);
}

const cache = new WeakMap<object, Config>();

/** The configuration for these bindings, parsed once per env object. */
export function readConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached !== undefined) return cached;
  const config: Config = {
    allowedOrigins: originsVar(env.ALLOWED_ORIGINS),
    maxMessageBytes: intVar(env, "MAX_MESSAGE_BYTES", DEFAULTS.maxMessageBytes),
    maxConnectionsPerRoom: intVar(env, "MAX_CONNECTIONS_PER_ROOM", DEFAULTS.maxConnectionsPerRoom),
    maxMessagesPerSecond: intVar(env, "MAX_MESSAGES_PER_SECOND", DEFAULTS.maxMessagesPerSecond),
    messageBurst: intVar(env, "MESSAGE_BURST", DEFAULTS.messageBurst),
  };
  cache.set(env, config);
  return config;
}

/** A request with no Origin (non-browser client) is always allowed. */
export function isOriginAllowed(config: Config, origin: string | null): boolean {
  return origin === null || config.allowedOrigins === "*" || config.allowedOrigins.has(origin);
}
