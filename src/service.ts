/**
 * The facade other Workers bind to: `services: [{ binding, service, entrypoint: "RoomService" }]`.
 * The binding is the authorisation (only Workers the owner binds can call it), so it asks
 * for no token. Each method delegates to `Rooms`, which validates every argument.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { BroadcastOptions, BroadcastReport, ConnectionInfo, Message, RoomsApi } from "../rpc/api";
import type { Env } from "./env";
import { handleRequest } from "./http";
import { type RoomHandle, Rooms } from "./rooms";

export class RoomService extends WorkerEntrypoint<Env> implements RoomsApi {
  /** `/websocket` and `/rooms/<room>/websocket` through the binding's fetch. */
  override fetch(request: Request): Promise<Response> {
    return handleRequest(request, this.env);
  }

  getConnectionCount(room?: string): Promise<number> {
    return this.#rooms().getConnectionCount(room);
  }

  broadcast(message: Message, options?: BroadcastOptions): Promise<BroadcastReport> {
    return this.#rooms().broadcast(message, options);
  }

  listConnections(room?: string): Promise<ConnectionInfo[]> {
    return this.#rooms().listConnections(room);
  }

  send(connectionId: string, message: Message, room?: string): Promise<boolean> {
    return this.#rooms().send(connectionId, message, room);
  }

  disconnect(connectionId: string, code?: number, reason?: string, room?: string): Promise<boolean> {
    return this.#rooms().disconnect(connectionId, code, reason, room);
  }

  room(name: string): RoomHandle {
    return this.#rooms().room(name);
  }

  #rooms(): Rooms {
    return new Rooms(this.env);
  }
}
