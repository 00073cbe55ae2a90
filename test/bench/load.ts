/**
 * The load generators, all `ws` clients in this Node process: sockets opened with bounded
 * concurrency, request/response round trips on one socket, and a closed loop over many.
 * Every loop is bounded by a count and a deadline.
 */
import WebSocket from "ws";

/**
 * What every client sends. Not "ping": the project's room answers that from the runtime
 * (setWebSocketAutoResponse) without running any of its code.
 */
export const MESSAGE = "bench message 0123456789abcdef";

/** Whether a reply is the one the endpoint promises (seed line, or the message echoed). */
export type ReplyCheck = (data: Buffer) => boolean;

const SEED_PREFIX = Buffer.from("[Durable Object] currentlyConnectedWebSockets: ");
const ECHO = Buffer.from(MESSAGE);
export const isSeedReply: ReplyCheck = (data) => data.subarray(0, SEED_PREFIX.length).equals(SEED_PREFIX);
export const isEcho: ReplyCheck = (data) => data.equals(ECHO);

export function openSocket(url: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // No permessage-deflate: workerd does not offer it by default, node-ws is started without.
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no upgrade from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once("open", () => (clearTimeout(timer), resolve(ws)));
    ws.once("unexpected-response", (_request, response) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`HTTP ${response.statusCode} from ${url}`));
    });
    ws.once("error", (error) => (clearTimeout(timer), reject(error)));
  });
}

/**
 * Opens `count` sockets, at most `concurrency` upgrades in flight, and times it. On a failure
 * the sockets already open are closed before the error is thrown.
 */
export async function openMany(
  url: string,
  count: number,
  concurrency: number,
  timeoutMs = 10_000,
): Promise<{ sockets: WebSocket[]; seconds: number }> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const started = performance.now();
  const opener = async () => {
    while (next < count) {
      next++;
      sockets.push(await openSocket(url, timeoutMs));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener));
  } catch (error) {
    await closeAll(sockets);
    throw error;
  }
  return { sockets, seconds: (performance.now() - started) / 1000 };
}

/** Closes with a handshake, and cuts whatever has not finished it within `timeoutMs`. */
export async function closeAll(sockets: WebSocket[], timeoutMs = 3_000): Promise<void> {
  const closed = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close(1000);
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

export interface RoundTrips {
  /** Milliseconds per round trip. */
  latencies: number[];
  errors: number;
}

/** Up to `count` request/response round trips on one socket, stopping at `deadlineMs`. */
export async function roundTrips(
  ws: WebSocket,
  count: number,
  deadlineMs: number,
  check: ReplyCheck,
): Promise<RoundTrips> {
  const latencies: number[] = [];
  let errors = 0;
  const stop = performance.now() + deadlineMs;
  for (let i = 0; i < count && performance.now() < stop; i++) {
    const sent = performance.now();
    const reply = await nextMessage(ws, 5_000);
    latencies.push(performance.now() - sent);
    if (!check(reply)) errors++;
  }
  return { latencies, errors };

  function nextMessage(socket: WebSocket, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      socket.once("message", (data: Buffer) => (clearTimeout(timer), resolve(data)));
      socket.send(MESSAGE);
    });
  }
}

export interface ClosedLoop {
  /** Replies per second in each window of the run. */
  windowRates: number[];
  /** Milliseconds from send to reply, every reply. */
  latencies: number[];
  replies: number;
  errors: number;
  /** CPU seconds this client process used per second of run (1 = one core busy). */
  clientCores: number;
}

/**
 * Each socket sends its next message when its reply arrives, for `durationMs`. Replies are
 * counted in windows of `windowMs` so that the median window, not a start-up burst or a
 * stall, is the figure. After the deadline nothing new is sent and in-flight replies are
 * awaited (at most 2 s) so that the sockets are quiet when they are closed.
 */
export async function closedLoop(
  sockets: WebSocket[],
  durationMs: number,
  windowMs: number,
  check: ReplyCheck,
): Promise<ClosedLoop> {
  const windows = new Array<number>(Math.ceil(durationMs / windowMs)).fill(0);
  const latencies: number[] = [];
  let errors = 0;
  let inFlight = 0;
  let settle: (() => void) | undefined;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + durationMs;
  const listeners = sockets.map((ws) => {
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      inFlight++;
      ws.send(MESSAGE);
    };
    const onMessage = (data: Buffer) => {
      const now = performance.now();
      inFlight--;
      if (!check(data)) errors++;
      if (now < end) {
        latencies.push(now - sentAt);
        const index = Math.floor((now - started) / windowMs);
        windows[index] = (windows[index] ?? 0) + 1;
        send();
      } else if (inFlight === 0) settle?.();
    };
    const onClose = () => errors++;
    ws.on("message", onMessage);
    ws.on("close", onClose);
    send();
    return () => (ws.off("message", onMessage), ws.off("close", onClose));
  });
  await new Promise((r) => setTimeout(r, durationMs));
  const cpu = process.cpuUsage(cpuBefore);
  if (inFlight > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      settle = resolve;
      timer = setTimeout(resolve, 2_000);
    });
    clearTimeout(timer);
  }
  for (const remove of listeners) remove();
  const seconds = durationMs / 1000;
  return {
    windowRates: windows.map((n) => n / (windowMs / 1000)),
    latencies,
    replies: latencies.length,
    errors,
    clientCores: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}

/** Milliseconds that `action` takes. */
export async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

/**
 * Resolves with the time (performance.now()) at which the last of `sockets` received
 * `message`; rejects after `timeoutMs` naming how many had it.
 */
export function untilAllReceive(sockets: WebSocket[], message: string, timeoutMs: number): Promise<number> {
  const expected = Buffer.from(message);
  return new Promise((resolve, reject) => {
    let pending = sockets.length;
    const listeners = sockets.map((ws) => {
      const onMessage = (data: Buffer) => {
        if (!data.equals(expected)) return;
        ws.off("message", onMessage);
        if (--pending === 0) {
          const at = performance.now();
          clearTimeout(timer);
          resolve(at);
        }
      };
      ws.on("message", onMessage);
      return () => ws.off("message", onMessage);
    });
    const timer = setTimeout(() => {
      for (const remove of listeners) remove();
      reject(
        new Error(`${sockets.length - pending} of ${sockets.length} sockets had the message after ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
}
