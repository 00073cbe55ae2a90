import { describe, expect, it } from "vitest";
import { messageBytes, utf8Length } from "../../src/connections";
import { isSendableCloseCode, truncateCloseReason } from "../../src/protocol";

describe("isSendableCloseCode()", () => {
  it.each([1000, 1001, 1008, 1009, 1011, 3000, 4000, 4999])("allows %i", (code) => {
    expect(isSendableCloseCode(code)).toBe(true);
  });
  it.each([0, 999, 1004, 1005, 1006, 1015, 5000, 1000.5, Number.NaN])("refuses %s", (code) => {
    expect(isSendableCloseCode(code)).toBe(false);
  });
});

describe("truncateCloseReason()", () => {
  it("keeps reasons of up to 123 UTF-8 bytes", () => {
    expect(truncateCloseReason("x".repeat(123))).toBe("x".repeat(123));
  });
  it("cuts longer reasons on a character boundary", () => {
    const cut = truncateCloseReason("é".repeat(100)); // 200 bytes
    expect(new TextEncoder().encode(cut).byteLength).toBe(122);
    expect(cut).toBe("é".repeat(61));
  });
});

describe("message sizes", () => {
  it("counts UTF-8 bytes of text, including surrogate pairs", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a😀é€", "\ud800"]) {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength);
    }
  });
  it("counts bytes of binary messages", () => {
    expect(messageBytes(new ArrayBuffer(7))).toBe(7);
    expect(messageBytes(new Uint8Array(5))).toBe(5);
  });
});
