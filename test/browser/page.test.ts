/**
 * The example page in a real headless Chromium (Debian's, driven by playwright-core; never a
 * downloaded browser): it loads, shows the live count change when a Node client joins, and
 * shows a broadcast arriving. A screenshot goes to test-results/browser/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, ROOT, startDev } from "../support/wrangler-dev";
import { type Client, openClient } from "../support/ws-client";

const TOKEN = "browser-test-token";
const SHOTS = join(ROOT, "test-results/browser");
let server: DevServer;
let browser: Browser;
let page: Page;
const clients: Client[] = [];
const WAIT = { timeout: 10_000, interval: 50 };
const text = (selector: string) => page.textContent(selector);

beforeAll(async () => {
  server = await startDev({ vars: { ADMIN_TOKEN: TOKEN } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await browser?.close();
  await server?.stop();
});

describe("the example page", () => {
  it("shows the live count, a Node client joining, and a broadcast arriving", async () => {
    const room = `browser-${Date.now()}`;
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    await page.goto(server.url);
    await expect.poll(() => page.title()).toContain("Durable WebSockets");
    await page.fill("#room", room);
    await page.click("#room-form button[type=submit]");
    await expect.poll(() => text("#status"), { timeout: 15_000 }).toBe("live");
    await expect.poll(() => text("#count"), WAIT).toBe("0");

    const node = await openClient(`${server.wsUrl}/rooms/${room}/websocket`);
    clients.push(node);
    await expect.poll(() => text("#count"), WAIT).toBe("1");

    await page.click("#open-socket");
    await expect.poll(() => text("#count"), WAIT).toBe("2");

    await page.fill("#token", TOKEN);
    await page.fill("#broadcast-message", "hello from the page");
    await page.click("#broadcast-form button[type=submit]");
    await expect.poll(() => text("#broadcast-result"), WAIT).toBe("delivered 2, failed 0, excluded 0");
    expect(await node.next()).toBe("hello from the page");
    await expect.poll(() => text("#log"), WAIT).toContain('broadcast "hello from the page"');

    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "page.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it("shows a clear refusal for a wrong token", async () => {
    await page.fill("#token", "wrong");
    await page.click("#broadcast-form button[type=submit]");
    await expect
      .poll(() => text("#broadcast-result"), WAIT)
      .toMatch(/^refused \(forbidden\): \[forbidden\] wrong token$/);
  });
});
