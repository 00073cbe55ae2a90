/**
 * The rooms API over Durable Object stubs: callers name a room, never an id or a stub.
 * Shared by the service-binding entrypoint and the capnweb facade; every argument is
 * validated here, before it reaches a room.
 */
import { RpcTarget } from "cloudflare:workers";
import type { BroadcastOptions, BroadcastReport, ConnectionInfo, Message, RoomApi, RoomsApi } from "../rpc/api";
import { readConfig } from "./config";
import type { Env } from "./env";
import type { Room } from "./room";
import {
  broadcastOptionsArg,
  closeArgs,
  connectionIdArg,
  messageArg,
  roomArg,
  roomBroadcastOptionsArg,
} from "./validation";

/**
 * One room as a capability: `rooms.room("lobby")` pipelines into its methods. A bad name
 * fails each call made on the handle rather than `room()` itself, so that a pipelined
 * `room(bad).broadcast(...)` rejects once, where the caller awaits, and leaves no unhandled
 * rejection behind on the intermediate promise.
 */
export class RoomHandle extends RpcTarget implements RoomApi {
  readonly #env: Env;
  readonly #name: unknown;
  readonly #maxMessageBytes: number;

  constructor(env: Env, name: unknown) {
    super();
    this.#env = env;
    this.#name = name;
    this.#maxMessageBytes = readConfig(env).maxMessageBytes;
  }

  get #stub(): DurableObjectStub<Room> {
    return this.#env.ROOM.getByName(roomArg(this.#name));
  }

  async getConnectionCount(): Promise<number> {
    return this.#stub.getConnectionCount();
  }

  async broadcast(message: Message, options?: { except?: string[] }): Promise<BroadcastReport> {
    const stub = this.#stub;
    const checked = messageArg(message, this.#maxMessageBytes);
    const except = roomBroadcastOptionsArg(options);
    return stub.broadcast(checked, { except });
  }

  async listConnections(): Promise<ConnectionInfo[]> {
    return this.#stub.listConnections();
  }

  async send(connectionId: string, message: Message): Promise<boolean> {
    const stub = this.#stub;
    return stub.send(connectionIdArg(connectionId), messageArg(message, this.#maxMessageBytes));
  }

  async disconnect(connectionId: string, code?: number, reason?: string): Promise<boolean> {
    const stub = this.#stub;
    const id = connectionIdArg(connectionId);
    const close = closeArgs(code, reason);
    return stub.disconnect(id, close.code, close.reason);
  }
}

/** Every room by name; a room left out is the default room of `/websocket`. */
export class Rooms extends RpcTarget implements RoomsApi {
  readonly #env: Env;

  constructor(env: Env) {
    super();
    this.#env = env;
  }

  room(name: string): RoomHandle {
    return this.#room(name);
  }

  async getConnectionCount(room?: string): Promise<number> {
    return this.#room(room).getConnectionCount();
  }

  async broadcast(message: Message, options?: BroadcastOptions): Promise<BroadcastReport> {
    const { room, except } = broadcastOptionsArg(options);
    return this.#room(room).broadcast(message, { except });
  }

  async listConnections(room?: string): Promise<ConnectionInfo[]> {
    return this.#room(room).listConnections();
  }

  async send(connectionId: string, message: Message, room?: string): Promise<boolean> {
    return this.#room(room).send(connectionId, message);
  }

  async disconnect(connectionId: string, code?: number, reason?: string, room?: string): Promise<boolean> {
    return this.#room(room).disconnect(connectionId, code, reason);
  }

  #room(name: unknown): RoomHandle {
    return new RoomHandle(this.#env, name);
  }
}
