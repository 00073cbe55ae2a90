/**
 * The capnweb facade: the object anonymous browsers and Node clients get at `/rpc`. One
 * instance per session, so it can count and end that session's subscriptions. Changing a
 * room needs `authenticate(token)`, capnweb's in-band pattern: the method returns the
 * authorised API, so there is no cookie or header for a cross-site page to ride on.
 */
import { RpcTarget } from "cloudflare:workers";
import type { PublicApi, RoomEvent } from "../rpc/api";
import { apiError, ErrorCode } from "../rpc/errors";
import type { Env } from "./env";
import { Rooms } from "./rooms";
import { isListenerStub, type ListenerStub, Subscription } from "./subscriptions";
import { roomArg } from "./validation";

/** Ends a session's subscriptions; a symbol, so that no client can call it over RPC. */
export const endSession = Symbol("endSession");

/** Subscriptions one session may hold at once; each is a socket to a room. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 16;

const encoder = new TextEncoder();

/** Compares secrets in time independent of where they differ (hashing evens out lengths). */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([given, expected].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(a as ArrayBuffer, b as ArrayBuffer);
}

function needsAuthentication(method: string): never {
  throw apiError(
    ErrorCode.unauthenticated,
    `${method}() needs authentication: call authenticate(token) and use the API it returns`,
  );
}

export class PublicRpc extends RpcTarget implements PublicApi {
  readonly #env: Env;
  readonly #subscriptions = new Set<Subscription>();

  constructor(env: Env) {
    super();
    this.#env = env;
  }

  async getConnectionCount(room?: string): Promise<number> {
    return this.#env.ROOM.getByName(roomArg(room)).getConnectionCount();
  }

  async subscribe(room: string | undefined, listener: (event: RoomEvent) => void): Promise<Subscription> {
    const name = roomArg(room);
    if (!isListenerStub(listener)) throw apiError(ErrorCode.invalidArgument, "listener must be a function");
    if (this.#subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SESSION) {
      throw apiError(
        ErrorCode.limitExceeded,
        `a session may hold at most ${MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions: dispose one first`,
      );
    }
    const subscription = await Subscription.open(this.#env, name, listener as ListenerStub, (s) =>
      this.#subscriptions.delete(s),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async authenticate(token: string): Promise<Rooms> {
    const expected = this.#env.ADMIN_TOKEN;
    if (expected === undefined || expected === "") {
      throw apiError(
        ErrorCode.forbidden,
        "no ADMIN_TOKEN is configured on the server: set it with `wrangler secret put ADMIN_TOKEN` " +
          "(locally: ADMIN_TOKEN=... in .dev.vars, or `npm run dev -- --var ADMIN_TOKEN:...`)",
      );
    }
    if (typeof token !== "string" || !(await sameSecret(token, expected))) {
      throw apiError(ErrorCode.forbidden, "wrong token");
    }
    return new Rooms(this.#env);
  }

  /** Methods of the authenticated API, answered with a clear error on the anonymous one. */
  broadcast(): never {
    return needsAuthentication("broadcast");
  }
  send(): never {
    return needsAuthentication("send");
  }
  disconnect(): never {
    return needsAuthentication("disconnect");
  }
  listConnections(): never {
    return needsAuthentication("listConnections");
  }
  room(): never {
    return needsAuthentication("room");
  }

  /** Ends every subscription of the session; called when its transport ends. */
  [endSession](): void {
    for (const subscription of [...this.#subscriptions]) subscription.end();
  }
}
