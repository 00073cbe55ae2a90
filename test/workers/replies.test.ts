import { describe, expect, it } from "vitest";
import { reply } from "../../src/replies";

const bytes = (...b: number[]) => new Uint8Array(b).buffer;

describe("reply()", () => {
  it("answers the docs example's line for seed, whatever the message", () => {
    expect(reply("seed", "hi", 3)).toBe("[Durable Object] currentlyConnectedWebSockets: 3");
    expect(reply("seed", bytes(1), 0)).toBe("[Durable Object] currentlyConnectedWebSockets: 0");
  });

  it("answers the message itself for echo, text as text and bytes as the same bytes", () => {
    expect(reply("echo", "héllo", 1)).toBe("héllo");
    const echoed = reply("echo", bytes(0, 255), 1);
    expect([...new Uint8Array(echoed as ArrayBuffer)]).toEqual([0, 255]);
  });

  it("answers JSON for json: the text, or base64 of bytes", () => {
    expect(JSON.parse(reply("json", 'a "quoted"\nline', 2) as string)).toEqual({
      connections: 2,
      echo: 'a "quoted"\nline',
    });
    expect(JSON.parse(reply("json", bytes(1, 2, 3), 2) as string)).toEqual({ connections: 2, echoBase64: "AQID" });
    const large = new Uint8Array(100_000).fill(7);
    const decoded = atob((JSON.parse(reply("json", large.buffer, 1) as string) as { echoBase64: string }).echoBase64);
    expect(decoded.length).toBe(100_000);
  });
});
