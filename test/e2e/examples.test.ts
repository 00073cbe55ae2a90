/** The examples a reader runs by hand, run the same way against `wrangler dev`. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, ROOT, startDev } from "../support/wrangler-dev";

let server: DevServer;
beforeAll(async () => {
  server = await startDev();
});
afterAll(async () => {
  await server?.stop();
});

/** Runs the echo client with `input` on stdin; resolves with its output and exit code. */
function echoClient(url: string, input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "examples/echo-client/client.ts"), url], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => (child.kill(), reject(new Error(`echo client hung: ${stdout}${stderr}`))), 15_000);
    child.on("exit", (code) => (clearTimeout(timer), resolve({ stdout, stderr, code })));
    child.stdin.end(input);
  });
}

describe("examples/echo-client", () => {
  it("sends each line and prints each reply, then closes with 1000", async () => {
    const room = `example-echo-${Date.now()}`;
    const result = await echoClient(`${server.wsUrl}/rooms/${room}/websocket`, "hello\nworld\n");
    expect(result.stdout.trim().split("\n")).toEqual([
      "[Durable Object] currentlyConnectedWebSockets: 1",
      "[Durable Object] currentlyConnectedWebSockets: 1",
    ]);
    expect(result.stderr.trim()).toBe("closed 1000 end of input");
    expect(result.code).toBe(0);
  });

  it("prints the JSON replies of format=json", async () => {
    const result = await echoClient(`${server.wsUrl}/websocket?format=json`, "hi\n");
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ echo: "hi" });
  });
});
