/**
 * WebSocket clients inside workerd, through the Worker's real fetch handler
 * (`exports.default.fetch`, the path production uses). Every wait times out.
 */
import { exports } from "cloudflare:workers";

export const BASE = "http://example.com";
const WAIT_MS = 2_000;

export interface TestSocket {
  ws: WebSocket;
  /** The next message, or an error after a timeout. */
  next(): Promise<string | ArrayBuffer>;
  /** Sends and returns the reply. */
  ask(message: string | ArrayBuffer | Uint8Array): Promise<string | ArrayBuffer>;
  /** Resolves with the close event the server sent. */
  closed: Promise<{ code: number; reason: string }>;
}

export function upgradeHeaders(extra?: Record<string, string>): HeadersInit {
  return { Upgrade: "websocket", ...extra };
}

export async function connect(path: string, headers?: Record<string, string>): Promise<TestSocket> {
  const response = await exports.default.fetch(`${BASE}${path}`, { headers: upgradeHeaders(headers) });
  const ws = response.webSocket;
  if (response.status !== 101 || ws === null) {
    throw new Error(`expected 101 for ${path}, got ${response.status}: ${await response.text()}`);
  }
  ws.binaryType = "arraybuffer";
  ws.accept();
  const queue: (string | ArrayBuffer)[] = [];
  const waiters: ((m: string | ArrayBuffer) => void)[] = [];
  ws.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer;
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(data);
    else waiter(data);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
  });
  const next = () =>
    new Promise<string | ArrayBuffer>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error(`no message on ${path} within ${WAIT_MS} ms`)), WAIT_MS);
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  return {
    ws,
    next,
    // The timeout starts when a test waits for the close, not at connect time.
    get closed() {
      return withTimeout(closed, `close of ${path}`);
    },
    async ask(message) {
      ws.send(message);
      return next();
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

/** Polls until `check` holds, for state the runtime updates asynchronously (a close arriving). */
export async function eventually(check: () => Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let counter = 0;
/** A room name no other test uses. */
export function uniqueRoom(label: string): string {
  return `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}
