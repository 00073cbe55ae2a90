/** Eviction while sockets are busy: nothing is lost, counted twice or renamed. */

import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect, uniqueRoom } from "./sockets";

const line = (n: number) => `[Durable Object] currentlyConnectedWebSockets: ${n}`;

describe("eviction during traffic", () => {
  it("keeps every socket, its id and its replies when the room is evicted mid-stream", async () => {
    const room = uniqueRoom("evict-traffic");
    const stub = env.ROOM.getByName(room);
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(`/rooms/${room}/websocket`)));
    const ids = (await stub.listConnections()).map((c) => c.id).sort();

    // Each socket sends 20 messages (within the test burst of 30), in rounds; the room is
    // evicted (sockets hibernated) between rounds while replies are still in flight.
    const replies: unknown[] = [];
    for (let round = 0; round < 4; round++) {
      const pending = sockets.flatMap((s) => Array.from({ length: 5 }, (_, i) => s.ask(`r${round}m${i}`)));
      if (round > 0) {
        await stub.getConnectionCount(); // the object is running, with replies in flight
        await evictDurableObject(stub, { webSockets: "hibernate" });
      }
      replies.push(...(await Promise.all(pending)));
    }

    expect(replies).toHaveLength(8 * 20);
    expect(new Set(replies)).toEqual(new Set([line(8)]));
    expect(await stub.getConnectionCount()).toBe(8);
    expect((await stub.listConnections()).map((c) => c.id).sort()).toEqual(ids);
  });
});
