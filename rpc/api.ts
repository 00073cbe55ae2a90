/**
 * The one API of the project, served by every transport: Workers RPC through a service
 * binding, and capnweb over WebSocket and HTTP batch. The room Durable Object, the
 * service-binding entrypoint and the capnweb facade each say `implements` one of these, so
 * the compiler checks that they match. This file imports nothing: a caller Worker or a
 * browser bundle can take it alone.
 */

/** A message for a socket: text goes out as a text frame, bytes as a binary frame. */
export type Message = string | ArrayBuffer | Uint8Array;

/** What one `broadcast()` did, socket by socket. */
export interface BroadcastReport {
  /** Sockets that the message was handed to. */
  delivered: number;
  /** Sockets whose send threw; each was closed with 1011 and is no longer connected. */
  failed: number;
  /** Open sockets skipped because their id was in `except`. */
  excluded: number;
}

/** The reply a socket asked for with `?format=` when it connected. */
export type ReplyFormat = "seed" | "echo" | "json";

/** One open socket of a room, as `listConnections()` reports it. */
export interface ConnectionInfo {
  /** Stable for the life of the socket, across hibernation; use it with `send`, `disconnect`, `except`. */
  id: string;
  /** When the socket connected, in milliseconds since the Unix epoch. */
  connectedAt: number;
  /** Metadata the socket carries from its upgrade request. */
  metadata: ConnectionMetadata;
}

export interface ConnectionMetadata {
  format: ReplyFormat;
  /** The `Origin` header of the upgrade, or null for non-browser clients. */
  origin: string | null;
}

/** Options of `broadcast()` on the rooms API. */
export interface BroadcastOptions {
  /** The room; the default room of `/websocket` when left out. */
  room?: string;
  /** Connection ids that must not receive the message. */
  except?: string[];
}

/** The methods of one room: a capability, so `rooms.room("lobby").broadcast("hi")` pipelines. */
export interface RoomApi {
  getConnectionCount(): Promise<number>;
  broadcast(message: Message, options?: { except?: string[] }): Promise<BroadcastReport>;
  listConnections(): Promise<ConnectionInfo[]>;
  /** Sends to one connection; false when no open socket has that id. */
  send(connectionId: string, message: Message): Promise<boolean>;
  /** Closes one connection (default 1000); false when no open socket has that id. */
  disconnect(connectionId: string, code?: number, reason?: string): Promise<boolean>;
}

/**
 * Every room, addressed by name (a `room` left out means the default room of `/websocket`).
 * Service-binding callers get this; capnweb callers get it from `authenticate(token)`.
 */
export interface RoomsApi {
  getConnectionCount(room?: string): Promise<number>;
  broadcast(message: Message, options?: BroadcastOptions): Promise<BroadcastReport>;
  listConnections(room?: string): Promise<ConnectionInfo[]>;
  send(connectionId: string, message: Message, room?: string): Promise<boolean>;
  disconnect(connectionId: string, code?: number, reason?: string, room?: string): Promise<boolean>;
  room(name: string): RoomApi;
}

/** What a `subscribe()` listener hears from a room. `connections` is the count after the change. */
export type RoomEvent =
  | { type: "join" | "leave"; room: string; connections: number }
  | { type: "broadcast"; room: string; data: string | Uint8Array };

/** A live subscription; dispose it (or call `unsubscribe()`) to stop its events. */
export interface Subscription {
  readonly room: string;
  unsubscribe(): Promise<void>;
}

/**
 * What anonymous capnweb callers (browsers, Node) get at `/rpc`. Reading is open; changing
 * a room needs `authenticate(token)`, which returns the same `RoomsApi` that service-binding
 * callers get.
 */
export interface PublicApi {
  getConnectionCount(room?: string): Promise<number>;
  /**
   * Calls `listener` on each join, leave and broadcast in `room` (the default room when
   * undefined). Resolves once the subscription is live: any later event is delivered.
   * Needs the WebSocket transport; an HTTP batch ends its subscriptions with the batch.
   */
  subscribe(room: string | undefined, listener: (event: RoomEvent) => void): Promise<Subscription>;
  /** The rooms API, for a caller who knows the server's ADMIN_TOKEN. */
  authenticate(token: string): Promise<RoomsApi>;
}
