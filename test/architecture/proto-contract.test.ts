/**
 * The protobuf contract stays lint-clean (buf STANDARD + COMMENTS: every service, RPC and field
 * commented). CI runs this on every submission.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("proto/", () => {
  it("passes buf lint", () => {
    const run = () => execFileSync(path.join(ROOT, "node_modules/.bin/buf"), ["lint"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
    expect(run).not.toThrow();
  });
});
