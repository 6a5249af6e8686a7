import { describe, expect, it } from "vitest";
import { PlainHeaders } from "../../../../src/transport/connect/lean-grpc/plain-headers.js";

describe("the lean path's plain headers", () => {
  it("reads Node's incoming headers case-insensitively, without pseudo-headers, repeated values joined", () => {
    const headers = PlainHeaders.fromIncoming({ ":path": "/x", ":method": "POST", authorization: "Basic abc", "set-cookie": ["a=1", "b=2"] });
    expect(headers.get("Authorization")).toBe("Basic abc");
    expect(headers.get("set-cookie")).toBe("a=1, b=2");
    expect([...headers.keys()]).toEqual(["authorization", "set-cookie"]);
  });

  it("behaves as WHATWG Headers for what calls do with them", () => {
    const plain = new PlainHeaders();
    const web = new Headers();
    for (const headers of [plain, web]) {
      headers.set("X-B", "  two  ");
      headers.append("x-a", "one");
      headers.append("X-A", "uno");
      headers.delete("x-missing");
    }
    expect([...plain.entries()]).toEqual([...web.entries()]);
    expect(plain.get("x-a")).toBe(web.get("x-a"));
    plain.delete("X-A");
    expect(plain.has("x-a")).toBe(false);
  });

  it("refuses what WHATWG Headers refuse: names that are no token, values with CR, LF or NUL", () => {
    const plain = new PlainHeaders();
    for (const [name, value] of [["bad name", "v"], ["x-ok", "a\r\nInjected: yes"], ["x-ok", "a\0b"]] as const) {
      expect(() => new Headers().set(name, value)).toThrow(TypeError);
      expect(() => plain.set(name, value)).toThrow(TypeError);
    }
  });

  it("writes Node's outgoing header object", () => {
    const headers = PlainHeaders.ofValid({ "content-type": "application/grpc" });
    headers.set("grpc-status", "0");
    expect(headers.toOutgoing({ ":status": 200 })).toEqual({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" });
  });
});
