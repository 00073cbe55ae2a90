/** A `ws` client for end-to-end tests: queued messages and waits that time out. */
import WebSocket from "ws";

const WAIT_MS = 5_000;

export interface Client {
  ws: WebSocket;
  next(ms?: number): Promise<string | Buffer>;
  ask(message: string | Buffer): Promise<string | Buffer>;
  closed: Promise<{ code: number; reason: string }>;
}

export function openClient(url: string, options?: WebSocket.ClientOptions): Promise<Client> {
  const ws = new WebSocket(url, options);
  const queue: (string | Buffer)[] = [];
  const waiters: ((m: string | Buffer) => void)[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const message = isBinary ? data : data.toString("utf8");
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(message);
    else waiter(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  const next = (ms = WAIT_MS) =>
    new Promise<string | Buffer>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error(`no message from ${url} within ${ms} ms`)), ms);
      waiters.push((m) => (clearTimeout(timer), resolve(m)));
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no upgrade from ${url} within ${WAIT_MS} ms`)), WAIT_MS);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve({ ws, next, closed, ask: (m) => (ws.send(m), next()) });
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })),
      );
    });
    ws.once("error", (error) => (clearTimeout(timer), reject(error)));
  });
}

export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
