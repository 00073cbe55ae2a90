/**
 * Room observers for hostile end-to-end tests: a bystander socket whose reply line carries
 * the room's count, the Worker's structured log lines of one room, and polling with a timeout.
 */
import { type Client, openClient } from "./ws-client";

const SEED_LINE = /^\[Durable Object\] currentlyConnectedWebSockets: (\d+)$/;

/** The count in a seed-format reply line; throws on anything else. */
export function countOf(reply: string | Buffer): number {
  const match = typeof reply === "string" ? SEED_LINE.exec(reply) : null;
  if (match === null) throw new Error(`not a count line: ${JSON.stringify(String(reply))}`);
  return Number(match[1]);
}

/** Polls `check` until it holds; rejects with `what` after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A well-behaved socket kept in a room to ask it, between hostile acts, how many it counts. */
export class Bystander {
  readonly client: Client;

  constructor(client: Client) {
    this.client = client;
  }

  static async join(url: string): Promise<Bystander> {
    return new Bystander(await openClient(url));
  }

  /** The room's count now, from the bystander's reply line. */
  async count(): Promise<number> {
    return countOf(await this.client.ask("count?"));
  }

  /**
   * Waits until the room counts `expected` (a close reaches the room asynchronously) and
   * returns the last count seen, for the caller to assert on: a wrong count fails with it.
   */
  async settle(expected: number, ms = 10_000): Promise<number> {
    const deadline = Date.now() + ms;
    let last = await this.count();
    while (last !== expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 150));
      last = await this.count();
    }
    return last;
  }
}

/** One structured line the Worker logs (src/log.ts). */
export interface LogLine {
  event: string;
  room?: string;
  id?: string;
  code?: number;
  reason?: string;
  clean?: boolean;
  error?: string;
  path?: string;
  status?: number;
}

/** The Worker's structured log lines, optionally of one room only. */
export function logLines(log: string, room?: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of log.split("\n")) {
    if (!text.startsWith('{"event":')) continue;
    try {
      const line = JSON.parse(text) as LogLine;
      if (room === undefined || line.room === room) lines.push(line);
    } catch {
      // A line cut by a concurrent write is not ours to judge.
    }
  }
  return lines;
}
