/**
 * The type of a service binding to the facade, for a caller Worker's `Env`:
 *
 *   interface Env { WS: RoomsBinding }   // wrangler.jsonc: services: [{ binding: "WS",
 *                                        //   service: "durable-websockets", entrypoint: "RoomService" }]
 *
 * It needs the Workers types (`Service`, `Rpc`) that every Worker project has; browser code
 * imports `./api` or `./client` instead.
 */
import type { RoomsApi } from "./api.ts";

export type RoomsBinding = Service<RoomsApi & Rpc.WorkerEntrypointBranded>;
