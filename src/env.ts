/**
 * The bindings of the server Worker, as declared in wrangler.jsonc. Written by hand (not
 * generated) because it is this short; keep it in step with wrangler.jsonc.
 */
import type { Room } from "./room";

declare global {
  namespace Cloudflare {
    /** Types `exports` of cloudflare:workers (and `ctx.exports`) from the main module. */
    interface GlobalProps {
      mainModule: typeof import("./index");
      durableNamespaces: "Room";
    }
    interface Env {
      ROOM: DurableObjectNamespace<Room>;
      /** Secret for `authenticate(token)` on /rpc; unset disables authenticated capnweb calls. */
      ADMIN_TOKEN?: string;
      ALLOWED_ORIGINS?: string;
      MAX_MESSAGE_BYTES?: string;
      MAX_CONNECTIONS_PER_ROOM?: string;
      MAX_MESSAGES_PER_SECOND?: string;
      MESSAGE_BURST?: string;
    }
  }
}

export type Env = Cloudflare.Env;
