/**
 * A WebSocket client over raw TCP for hostile end-to-end tests: it sends whatever bytes a
 * test asks for (any header, opcode, RSV bit, mask or length) and reports exactly what the
 * server answered (HTTP status, headers and body; frames; whether TCP was closed). It never
 * validates what it sends: that is the server's job under test. Every wait times out.
 */
import { randomBytes } from "node:crypto";
import { type Socket, connect as tcpConnect } from "node:net";
import { deflateRawSync, inflateRawSync, constants as zlib } from "node:zlib";

const WAIT_MS = 5_000;

export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** FIN bit; true unless said otherwise. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3). */
  rsv?: number;
  /** Mask the payload (clients must, RFC 6455 5.3); true unless said otherwise. */
  mask?: boolean;
  /** Length to declare in the header instead of the payload's (a lie the server must survive). */
  declaredLength?: bigint | number;
}

/** Encodes one frame exactly as specified. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === "string" ? Buffer.from(spec.payload, "utf8") : (spec.payload ?? Buffer.alloc(0));
  const fin = spec.fin ?? true;
  const masked = spec.mask ?? true;
  const length = BigInt(spec.declaredLength ?? payload.length);
  const first = (fin ? 0x80 : 0) | (((spec.rsv ?? 0) & 0b111) << 4) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([first, Number(length)]);
  } else if (length < 65_536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  header[1] = (header[1] ?? 0) | 0x80;
  const key = randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([header, key, body]);
}

/** A close frame's payload: a 2-byte code then the reason, either left out when undefined. */
export function closePayload(code?: number, reason: Buffer | string = ""): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code & 0xffff);
  return Buffer.concat([head, typeof reason === "string" ? Buffer.from(reason, "utf8") : reason]);
}

/**
 * A message body compressed for permessage-deflate (RFC 7692 7.2.1): raw DEFLATE with a sync
 * flush, minus the trailing 00 00 ff ff. Send it with RSV1 set.
 */
export function deflateMessage(data: Buffer | string): Buffer {
  const bytes = deflateRawSync(typeof data === "string" ? Buffer.from(data, "utf8") : data, {
    finishFlush: zlib.Z_SYNC_FLUSH,
  });
  return bytes.subarray(0, bytes.length - 4);
}

/** A frame as the server sent it. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** The code and reason of a close frame (code 1005 when the payload is empty). */
export function parseClose(frame: Frame): { code: number; reason: string } {
  if (frame.payload.length < 2) return { code: 1005, reason: "" };
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString("utf8") };
}

/** Splits a byte stream into frames; keeps a partial frame until the rest arrives. */
export class FrameReader {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.#take();
      if (frame === undefined) return frames;
      frames.push(frame);
    }
  }

  #take(): Frame | undefined {
    const b = this.#buffer;
    if (b.length < 2) return undefined;
    const first = b[0] ?? 0;
    const second = b[1] ?? 0;
    let offset = 2;
    let length = second & 0x7f;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    const masked = (second & 0x80) !== 0;
    const key = masked ? b.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (b.length < offset + length) return undefined;
    const payload = Buffer.from(b.subarray(offset, offset + length));
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
    this.#buffer = b.subarray(offset + length);
    return { fin: (first & 0x80) !== 0, rsv: (first >> 4) & 0b111, opcode: first & 0x0f, masked, payload };
  }
}

export interface HttpHead {
  status: number;
  statusText: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

export interface HandshakeOptions {
  path: string;
  /**
   * Headers to send. Defaults are a valid upgrade (Host, Upgrade, Connection,
   * Sec-WebSocket-Key, Sec-WebSocket-Version 13); a name given here replaces its default, and
   * `null` leaves the header out.
   */
  headers?: Record<string, string | null>;
  method?: string;
  /** Bytes to send after the head instead of nothing (e.g. a POST body). */
  body?: Buffer | string;
  /** Write the request one byte every `slowMs` milliseconds (slowloris). */
  slowMs?: number;
}

export function requestHead(host: string, options: HandshakeOptions): string {
  const defaults: Record<string, string | null> = {
    Host: host,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
  };
  const merged = new Map<string, [string, string | null]>();
  for (const [name, value] of Object.entries(defaults)) merged.set(name.toLowerCase(), [name, value]);
  for (const [name, value] of Object.entries(options.headers ?? {})) merged.set(name.toLowerCase(), [name, value]);
  const lines = [`${options.method ?? "GET"} ${options.path} HTTP/1.1`];
  for (const [name, value] of merged.values()) if (value !== null) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * One raw TCP connection to the server. After `handshake()` resolves, `head` is the HTTP
 * answer; for a 101 the frames that follow are read with `nextFrame()`; for anything else the
 * body is read with `body()`.
 */
export class RawSocket {
  readonly socket: Socket;
  readonly #host: string;
  #data = Buffer.alloc(0);
  #head: HttpHead | undefined;
  #reader = new FrameReader();
  #frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  /** Set when permessage-deflate was agreed: RSV1 frames from the server are inflated. */
  inflate = false;

  private constructor(socket: Socket, host: string) {
    this.socket = socket;
    this.#host = host;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on("close", end);
    socket.on("end", end);
    // A reset from the server is an ending like any other; tests assert on `ended`.
    socket.on("error", end);
  }

  static open(port: number, host = "127.0.0.1", ms = WAIT_MS): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ port, host });
      socket.setNoDelay(true);
      const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no TCP connection within ${ms} ms`))), ms);
      socket.once("connect", () => (clearTimeout(timer), resolve(new RawSocket(socket, `${host}:${port}`))));
      socket.once("error", (error) => (clearTimeout(timer), reject(error)));
    });
  }

  /** Opens a connection and sends an upgrade request; resolves with the HTTP answer's head. */
  static async handshake(port: number, options: HandshakeOptions, ms = WAIT_MS): Promise<RawSocket> {
    const raw = await RawSocket.open(port);
    try {
      await raw.request(options, ms);
    } catch (error) {
      raw.destroy();
      throw error;
    }
    return raw;
  }

  get head(): HttpHead {
    if (this.#head === undefined) throw new Error("no HTTP answer yet");
    return this.#head;
  }

  get ended(): boolean {
    return this.#ended;
  }

  async request(options: HandshakeOptions, ms = WAIT_MS): Promise<HttpHead> {
    const bytes = Buffer.concat([
      Buffer.from(requestHead(this.#host, options), "latin1"),
      typeof options.body === "string" ? Buffer.from(options.body) : (options.body ?? Buffer.alloc(0)),
    ]);
    if (options.slowMs === undefined) this.socket.write(bytes);
    else {
      for (const byte of bytes) {
        if (this.#ended) break;
        this.socket.write(Buffer.from([byte]));
        await sleep(options.slowMs);
      }
    }
    await this.#until(() => this.#head !== undefined || this.#ended, "the HTTP answer", ms);
    if (this.#head === undefined) throw new Error(`connection ended before an HTTP answer`);
    if (this.#head.status === 101) {
      const extensions = this.#head.headers["sec-websocket-extensions"] ?? "";
      this.inflate = extensions.includes("permessage-deflate");
    }
    return this.#head;
  }

  /** The body of a non-101 answer (Content-Length or chunked), read to its end. */
  async body(ms = WAIT_MS): Promise<string> {
    const head = this.head;
    const length = head.headers["content-length"];
    if (length !== undefined) {
      await this.#until(() => this.#data.length >= Number(length) || this.#ended, "the HTTP body", ms);
      return this.#data.subarray(0, Number(length)).toString("utf8");
    }
    if (/chunked/i.test(head.headers["transfer-encoding"] ?? "")) {
      await this.#until(
        () => /(^|\r\n)0\r\n\r\n/.test(this.#data.toString("latin1")) || this.#ended,
        "the chunked body",
        ms,
      );
      return dechunk(this.#data);
    }
    await this.#until(() => this.#ended, "the end of the HTTP body", ms);
    return this.#data.toString("utf8");
  }

  send(...frames: (FrameSpec | Buffer)[]): void {
    if (this.socket.destroyed) return;
    this.socket.write(Buffer.concat(frames.map((f) => ("opcode" in f ? encodeFrame(f) : f))));
  }

  sendText(text: string): void {
    this.send({ opcode: Opcode.text, payload: text });
  }

  /** The next frame from the server; rejects on timeout or when TCP ends first. */
  async nextFrame(ms = WAIT_MS): Promise<Frame> {
    await this.#until(() => this.#frames.length > 0 || this.#ended, "a frame", ms);
    const frame = this.#frames.shift();
    if (frame === undefined) throw new Error("the connection ended before a frame arrived");
    return frame;
  }

  /** The next text frame, skipping pongs; rejects on any other frame. */
  async nextText(ms = WAIT_MS): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === Opcode.pong) continue;
      if (frame.opcode !== Opcode.text) {
        const what =
          frame.opcode === Opcode.close ? `close ${JSON.stringify(parseClose(frame))}` : `opcode ${frame.opcode}`;
        throw new Error(`expected a text frame, got ${what}`);
      }
      return frame.payload.toString("utf8");
    }
  }

  /** Reads frames up to the server's close frame; rejects when none comes within `ms`. */
  async untilClose(ms = WAIT_MS): Promise<{ before: Frame[]; close: { code: number; reason: string }; frame: Frame }> {
    const deadline = Date.now() + ms;
    const before: Frame[] = [];
    for (;;) {
      const frame = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === Opcode.close) return { before, close: parseClose(frame), frame };
      before.push(frame);
    }
  }

  /** Waits for TCP to end; true when it did within `ms`. */
  async tcpEnded(ms = WAIT_MS): Promise<boolean> {
    try {
      await this.#until(() => this.#ended, "the end of TCP", ms);
      return true;
    } catch {
      return false;
    }
  }

  /** Cuts TCP without a close frame (what the server records as 1006). */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#head === undefined) {
      this.#data = Buffer.concat([this.#data, chunk]);
      const end = this.#data.indexOf("\r\n\r\n");
      if (end === -1) {
        this.#wake();
        return;
      }
      this.#head = parseHead(this.#data.subarray(0, end).toString("latin1"));
      const rest = this.#data.subarray(end + 4);
      this.#data = Buffer.alloc(0);
      if (this.#head.status === 101) this.#onFrames(rest);
      else this.#data = Buffer.from(rest);
    } else if (this.#head.status === 101) {
      this.#onFrames(chunk);
    } else {
      this.#data = Buffer.concat([this.#data, chunk]);
    }
    this.#wake();
  }

  #onFrames(chunk: Buffer): void {
    if (chunk.length === 0) return;
    for (const frame of this.#reader.push(chunk)) {
      if (this.inflate && (frame.rsv & 0b100) !== 0 && frame.opcode !== Opcode.continuation) {
        // Assumes no_context_takeover, which the tests ask for; each message inflates alone.
        frame.payload = inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
          finishFlush: zlib.Z_SYNC_FLUSH,
        });
      }
      this.#frames.push(frame);
    }
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  async #until(ready: () => boolean, what: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }
}

function parseHead(text: string): HttpHead {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  if (match === null) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), statusText: match[2] ?? "", headers };
}

function dechunk(data: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", offset);
    if (lineEnd === -1) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts).toString("utf8");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
