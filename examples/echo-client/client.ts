/**
 * A plain WebSocket client, as one written for the docs example: each line of stdin is sent,
 * each reply printed. Runs on the project's Node 24 (global WebSocket, TypeScript as is):
 *
 *   npx node examples/echo-client/client.ts ws://localhost:8787/rooms/lobby/websocket
 *
 * The server answers every message once, so at the end of input the client waits for the
 * replies still due, then closes with 1000. It prints the close code it gets back.
 */
import { createInterface } from "node:readline";

const url = process.argv[2] ?? "ws://localhost:8787/websocket";
const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
const queued: string[] = [];
let awaiting = 0;
let inputDone = false;

function send(line: string): void {
  awaiting++;
  ws.send(line);
}

function closeWhenAnswered(): void {
  if (inputDone && awaiting === 0 && ws.readyState === WebSocket.OPEN) ws.close(1000, "end of input");
}

ws.addEventListener("open", () => {
  for (const line of queued.splice(0)) send(line);
  closeWhenAnswered();
});
ws.addEventListener("message", (event) => {
  const data = event.data as string | ArrayBuffer;
  console.log(typeof data === "string" ? data : `<${data.byteLength} bytes>`);
  awaiting--;
  closeWhenAnswered();
});
ws.addEventListener("close", (event) => {
  console.error(`closed ${event.code}${event.reason ? ` ${event.reason}` : ""}`);
  process.exit(event.code === 1000 ? 0 : 1);
});
ws.addEventListener("error", () => {
  if (ws.readyState === WebSocket.CLOSED && awaiting === 0 && inputDone) return;
  console.error(`WebSocket error on ${url}`);
  process.exit(2);
});

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => (ws.readyState === WebSocket.OPEN ? send(line) : queued.push(line)));
lines.on("close", () => {
  inputDone = true;
  closeWhenAnswered();
});
