/**
 * The API is declared once (rpc/api.ts); these checks fail to compile (tsc runs in
 * `npm test`) if a transport's stub drifts from it.
 */
import type { RpcStub } from "capnweb";
import { describe, expectTypeOf, it } from "vitest";
import type { BroadcastReport, PublicApi, RoomApi, RoomsApi } from "../../rpc/api";
import type { RoomsBinding } from "../../rpc/service-binding";
import type { Room } from "../../src/room";

/** The methods a stub adds to what every stub of its kind has (brands, promise methods). */
type Own<T, Base> = Exclude<keyof T, keyof Base | symbol | "__WORKER_ENTRYPOINT_BRAND" | keyof Promise<unknown>>;
/** Results arrive disposable on both transports; compare the data. */
type Data<T> = Omit<T, typeof Symbol.dispose>;

describe("one API for every transport", () => {
  it("gives the service-binding stub and the capnweb stub the same methods", () => {
    type BindingMethods = Own<RoomsBinding, Fetcher>;
    type CapnwebMethods = Own<RpcStub<RoomsApi>, RpcStub<object>>;
    expectTypeOf<BindingMethods>().toEqualTypeOf<keyof RoomsApi>();
    expectTypeOf<CapnwebMethods>().toEqualTypeOf<keyof RoomsApi>();
  });

  it("types results the same way on both stubs", () => {
    type ViaBinding = Data<Awaited<ReturnType<RoomsBinding["broadcast"]>>>;
    type ViaCapnweb = Data<Awaited<ReturnType<RpcStub<RoomsApi>["broadcast"]>>>;
    expectTypeOf<ViaBinding>().toEqualTypeOf<BroadcastReport>();
    expectTypeOf<ViaCapnweb>().toEqualTypeOf<BroadcastReport>();
    expectTypeOf<Parameters<RoomsBinding["broadcast"]>>().toEqualTypeOf<Parameters<RoomsApi["broadcast"]>>();
  });

  it("makes the room Durable Object's stub a RoomApi", () => {
    expectTypeOf<Own<DurableObjectStub<Room>, DurableObjectStub>>().toExtend<string>();
    expectTypeOf<Room>().toExtend<RoomApi>();
  });

  it("gives capnweb callers authenticate() returning the rooms API", () => {
    type Authed = Own<ReturnType<RpcStub<PublicApi>["authenticate"]>, RpcStub<object>>;
    expectTypeOf<Authed>().toEqualTypeOf<keyof RoomsApi>();
  });
});
