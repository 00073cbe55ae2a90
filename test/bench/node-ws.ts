/**
 * The seed's echo-with-count on a plain Node `ws` server: what one JavaScript thread can do
 * on this machine without a runtime in between, the practical ceiling for the others.
 * `POST /broadcast` sends the body to every client, one `send()` each (bench case 4).
 * Usage: node test/bench/node-ws.ts <port>; prints "Ready on http://127.0.0.1:<port>".
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const http = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/broadcast") {
    response.writeHead(400).end("Bad Request");
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const message = Buffer.concat(chunks).toString();
    let delivered = 0;
    for (const ws of server.clients) {
      ws.send(message);
      delivered++;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ delivered }));
  });
});
// perMessageDeflate off, as workerd answers: compression would change what is measured.
const server = new WebSocketServer({ server: http, path: "/websocket", perMessageDeflate: false });
let currentlyConnectedWebSockets = 0;

server.on("connection", (ws) => {
  currentlyConnectedWebSockets += 1;
  ws.on("message", () => ws.send(`[Durable Object] currentlyConnectedWebSockets: ${currentlyConnectedWebSockets}`));
  ws.on("close", () => (currentlyConnectedWebSockets -= 1));
});
http.listen(port, "127.0.0.1", () => console.log(`Ready on http://127.0.0.1:${port}`));
