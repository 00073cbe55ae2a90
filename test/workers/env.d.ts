/** Bindings that exist only in the workerd test project (vitest.config.ts). */
declare namespace Cloudflare {
  interface Env {
    /** The example caller Worker, an auxiliary Worker bound to our RoomService. */
    CALLER: Fetcher;
  }
}
