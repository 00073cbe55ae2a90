/**
 * The example page: live count by `watchRoom` (capnweb subscription that survives drops), a
 * plain WebSocket into the room, and an authenticated broadcast. All types come from rpc/.
 */
import { batch, errorCode, type RoomEvent, watchRoom } from "../../../rpc/client";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const server = location.origin;
let stopWatching: (() => void) | undefined;
let socket: WebSocket | undefined;

function log(text: string): void {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").prepend(item);
}

function room(): string {
  return $<HTMLInputElement>("room").value.trim() || "default";
}

function describe(event: RoomEvent): string {
  if (event.type === "broadcast") {
    const data = typeof event.data === "string" ? JSON.stringify(event.data) : `${event.data.byteLength} bytes`;
    return `broadcast ${data}`;
  }
  return `${event.type}: ${event.connections} connected`;
}

function watch(): void {
  stopWatching?.();
  const name = room();
  $("count").textContent = "…";
  $("status").textContent = "connecting";
  stopWatching = watchRoom(
    server,
    name,
    (event) => {
      if (event.type !== "broadcast") $("count").textContent = String(event.connections);
      log(`[${event.room}] ${describe(event)}`);
    },
    {
      onLive: () => {
        $("status").textContent = "live";
        // The count as of now, in one HTTP request; later changes arrive as events.
        batch(server)
          .getConnectionCount(name)
          .then((n) => ($("count").textContent = String(n)));
      },
      onDrop: () => ($("status").textContent = "reconnecting"),
    },
  );
}

function openSocket(): void {
  socket?.close(1000);
  const url = new URL(`/rooms/${encodeURIComponent(room())}/websocket`, server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  socket = ws;
  ws.addEventListener("open", () => {
    log("socket open");
    $<HTMLButtonElement>("send").disabled = false;
    $<HTMLButtonElement>("close-socket").disabled = false;
  });
  ws.addEventListener("message", (event) => log(`socket got ${JSON.stringify(String(event.data))}`));
  ws.addEventListener("close", (event) => {
    log(`socket closed ${event.code} ${event.reason}`);
    $<HTMLButtonElement>("send").disabled = true;
    $<HTMLButtonElement>("close-socket").disabled = true;
  });
}

async function broadcast(): Promise<void> {
  const token = $<HTMLInputElement>("token").value;
  const message = $<HTMLInputElement>("broadcast-message").value;
  const result = $("broadcast-result");
  try {
    // One HTTP request: authenticate and broadcast are pipelined in one batch.
    const report = await batch(server).authenticate(token).broadcast(message, { room: room() });
    result.textContent = `delivered ${report.delivered}, failed ${report.failed}, excluded ${report.excluded}`;
  } catch (error) {
    const code = errorCode(error);
    result.textContent = `refused (${code ?? "error"}): ${(error as Error).message}`;
  }
}

$("room-form").addEventListener("submit", (e) => (e.preventDefault(), watch()));
$("open-socket").addEventListener("click", openSocket);
$("close-socket").addEventListener("click", () => socket?.close(1000, "closed from the page"));
$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  socket?.send($<HTMLInputElement>("message").value);
});
$("broadcast-form").addEventListener("submit", (e) => (e.preventDefault(), void broadcast()));
watch();
