/**
 * The server's V8 heap growth limit (src/heap-growth.ts): set by default, and an operator's own
 * --heap-growing-percent is left alone.
 */
import { describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from "../../src/heap-growth.js";

describe("limitHeapGrowth", () => {
  it("sets V8's heap growing percent when node was given none", () => {
    const set: string[] = [];
    limitHeapGrowth(["--enable-source-maps"], (flags) => set.push(flags));
    expect(set).toEqual([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
  });

  it.each([[["--heap-growing-percent=0"]], [["--heap-growing-percent", "20"]]])("keeps the operator's own %j", (execArgv) => {
    const set: string[] = [];
    limitHeapGrowth(execArgv, (flags) => set.push(flags));
    expect(set).toEqual([]);
  });
});
