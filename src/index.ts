/**
 * The Worker's entry: wiring only. HTTP routing lives in http.ts, the room in room.ts, the
 * service-binding facade in service.ts.
 */
import type { Env } from "./env";
import { handleRequest } from "./http";

export { Room } from "./room";
export { RoomService } from "./service";

export default {
  fetch(request, env): Promise<Response> {
    return handleRequest(request, env);
  },
} satisfies ExportedHandler<Env>;
