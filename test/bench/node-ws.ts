/**
 * The seed's echo-with-count on a plain Node `ws` server: what one JavaScript thread can do
 * on this machine without a runtime in between, the practical ceiling for the others.
 * Usage: node test/bench/node-ws.ts <port>; prints "Ready on http://127.0.0.1:<port>".
 */
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
// perMessageDeflate off, as workerd answers: compression would change what is measured.
const server = new WebSocketServer({ host: "127.0.0.1", port, path: "/websocket", perMessageDeflate: false });
let currentlyConnectedWebSockets = 0;

server.on("connection", (ws) => {
  currentlyConnectedWebSockets += 1;
  ws.on("message", () => ws.send(`[Durable Object] currentlyConnectedWebSockets: ${currentlyConnectedWebSockets}`));
  ws.on("close", () => (currentlyConnectedWebSockets -= 1));
});
server.on("listening", () => console.log(`Ready on http://127.0.0.1:${port}`));
