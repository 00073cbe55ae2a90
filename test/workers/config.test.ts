import { describe, expect, it } from "vitest";
import { type Config, ConfigError, DEFAULTS, isOriginAllowed, readConfig } from "../../src/config";
import type { Env } from "../../src/env";

const env = (vars: Partial<Record<string, string>>) => ({ ...vars }) as unknown as Env;

describe("readConfig()", () => {
  it("uses the documented defaults when nothing is set", () => {
    expect(readConfig(env({}))).toEqual({ allowedOrigins: "*", ...DEFAULTS });
    expect(DEFAULTS.maxMessageBytes).toBe(65_536);
  });

  it("reads whole numbers and a list of origins", () => {
    const config = readConfig(
      env({ MAX_MESSAGE_BYTES: " 1024 ", ALLOWED_ORIGINS: "https://a.example, http://localhost:8787" }),
    );
    expect(config.maxMessageBytes).toBe(1024);
    expect(config.allowedOrigins).toEqual(new Set(["https://a.example", "http://localhost:8787"]));
  });

  it.each([
    ["MAX_MESSAGE_BYTES", "64k"],
    ["MAX_MESSAGE_BYTES", "0"],
    ["MAX_CONNECTIONS_PER_ROOM", "-1"],
    ["MAX_MESSAGES_PER_SECOND", "1.5"],
    ["MESSAGE_BURST", "lots"],
  ])("refuses %s=%s with a message naming the variable", (name, value) => {
    expect(() => readConfig(env({ [name]: value }))).toThrow(ConfigError);
    expect(() => readConfig(env({ [name]: value }))).toThrow(
      `Invalid ${name}=${JSON.stringify(value)}: expected a whole number of at least 1.`,
    );
  });

  it.each(["example.com", "https://a.example/path", "*.example.com"])(
    "refuses the ALLOWED_ORIGINS entry %s",
    (entry) => {
      expect(() => readConfig(env({ ALLOWED_ORIGINS: entry }))).toThrow(/Invalid ALLOWED_ORIGINS entry/);
    },
  );
});

describe("isOriginAllowed()", () => {
  const listed = { allowedOrigins: new Set(["https://good.example"]) } as unknown as Config;
  it("allows requests without an Origin (non-browser clients)", () => {
    expect(isOriginAllowed(listed, null)).toBe(true);
  });
  it("allows only listed origins, exactly", () => {
    expect(isOriginAllowed(listed, "https://good.example")).toBe(true);
    expect(isOriginAllowed(listed, "https://good.example.evil")).toBe(false);
    expect(isOriginAllowed(listed, "http://good.example")).toBe(false);
  });
  it("allows every origin with *", () => {
    expect(isOriginAllowed({ allowedOrigins: "*" } as unknown as Config, "https://any.example")).toBe(true);
  });
});
