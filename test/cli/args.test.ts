import { describe, expect, it } from "vitest";
import { keyValuePairs } from "../../src/cli/args.js";

describe("key=value flags (--metadata)", () => {
  it("collects pairs, the value being everything after the first =", () => {
    expect(keyValuePairs(["team=payments", "url=a=b"], "metadata")).toEqual({ team: "payments", url: "a=b" });
  });

  it("refuses a key given twice instead of keeping the last value", () => {
    expect(() => keyValuePairs(["team=payments", "team=billing"], "metadata")).toThrow('--metadata gives "team" twice');
  });
});
