import { describe, expect, it } from "vitest";
import { errorCode } from "../../rpc/errors";
import {
  broadcastOptionsArg,
  closeArgs,
  connectionIdArg,
  MAX_EXCEPT_IDS,
  messageArg,
  roomArg,
  roomBroadcastOptionsArg,
} from "../../src/validation";

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return errorCode(error);
  }
  return "accepted";
}

describe("argument checks", () => {
  it("takes a room name or the default room", () => {
    expect(roomArg(undefined)).toBe("default");
    expect(roomArg("lobby.1_a-B")).toBe("lobby.1_a-B");
    for (const bad of [null, 7, "", "a b", "x".repeat(65), ["lobby"]])
      expect(codeOf(() => roomArg(bad))).toBe("invalid_room");
  });

  it("takes text, ArrayBuffer or Uint8Array messages up to the limit, in UTF-8 bytes", () => {
    expect(messageArg("é".repeat(5), 10)).toBe("é".repeat(5));
    expect(codeOf(() => messageArg("é".repeat(6), 10))).toBe("too_large");
    expect(codeOf(() => messageArg(new Uint8Array(11), 10))).toBe("too_large");
    expect(messageArg(new ArrayBuffer(10), 10)).toBeInstanceOf(ArrayBuffer);
    for (const bad of [undefined, 1, { a: 1 }, [1, 2], new DataView(new ArrayBuffer(1))]) {
      expect(codeOf(() => messageArg(bad, 10))).toBe("invalid_argument");
    }
  });

  it("takes close codes an application may send and reasons of at most 123 bytes", () => {
    expect(closeArgs(undefined, undefined)).toEqual({ code: 1000, reason: "" });
    expect(closeArgs(4000, "bye")).toEqual({ code: 4000, reason: "bye" });
    for (const code of [999, 1001, 1005, 2999, 5000, 4000.5, "4000"]) {
      expect(codeOf(() => closeArgs(code, undefined))).toBe("invalid_argument");
    }
    expect(codeOf(() => closeArgs(1000, "é".repeat(62)))).toBe("invalid_argument");
  });

  it("takes broadcast options with only room and except", () => {
    expect(broadcastOptionsArg(undefined)).toEqual({ room: "default", except: [] });
    expect(broadcastOptionsArg({ room: "r", except: ["a"] })).toEqual({ room: "r", except: ["a"] });
    expect(codeOf(() => broadcastOptionsArg({ room: "r", extra: 1 }))).toBe("invalid_argument");
    expect(codeOf(() => broadcastOptionsArg({ except: Array(MAX_EXCEPT_IDS + 1).fill("id") }))).toBe(
      "invalid_argument",
    );
    expect(codeOf(() => broadcastOptionsArg({ room: "bad room" }))).toBe("invalid_room");
    expect(roomBroadcastOptionsArg({ except: ["x"] })).toEqual(["x"]);
    expect(codeOf(() => roomBroadcastOptionsArg({ room: "r" }))).toBe("invalid_argument");
  });

  it("takes connection ids of 1 to 64 characters", () => {
    expect(connectionIdArg("abc")).toBe("abc");
    for (const bad of ["", "x".repeat(65), 5]) expect(codeOf(() => connectionIdArg(bad))).toBe("invalid_argument");
  });
});
