import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

const KEY = randomBytes(32);
const SECRET = `whsec_${KEY.toString("base64")}`;

describe("event delivery settings", () => {
  it("deliver nowhere unless a sink is configured", () => {
    expect(loadConfig({}).events).toEqual({ webhook: undefined, stdout: false });
  });

  it("take an operator's webhook URL as given, plain http and loopback included, and decode the whsec_ secret", () => {
    const config = loadConfig({
      TESSERA_EVENT_WEBHOOK_URL: "http://127.0.0.1:9000/hooks",
      TESSERA_EVENT_WEBHOOK_SECRET: SECRET,
      TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS: "5",
      TESSERA_EVENT_STDOUT: "true",
    });
    expect(config.events).toEqual({ webhook: { url: "http://127.0.0.1:9000/hooks", key: KEY, maxAttempts: 5, timeoutMs: 10_000 }, stdout: true });
  });

  it("names a bad value", () => {
    expect(problemsOf({ TESSERA_EVENT_WEBHOOK_URL: "https://siem.example/hooks" })).toEqual([
      "TESSERA_EVENT_WEBHOOK_URL and TESSERA_EVENT_WEBHOOK_SECRET must be set together",
    ]);
    expect(problemsOf({ TESSERA_EVENT_WEBHOOK_URL: "https://siem.example/hooks", TESSERA_EVENT_WEBHOOK_SECRET: KEY.toString("base64") })[0]).toMatch(
      /^TESSERA_EVENT_WEBHOOK_SECRET must be a Standard Webhooks secret/,
    );
    expect(problemsOf({ TESSERA_EVENT_WEBHOOK_URL: "https://siem.example/hooks", TESSERA_EVENT_WEBHOOK_SECRET: `whsec_${randomBytes(8).toString("base64")}` })[0]).toMatch(
      /^TESSERA_EVENT_WEBHOOK_SECRET must be/,
    );
    expect(problemsOf({ TESSERA_EVENT_WEBHOOK_URL: "ftp://siem.example/", TESSERA_EVENT_WEBHOOK_SECRET: SECRET })).toEqual(["TESSERA_EVENT_WEBHOOK_URL must be an http(s) URL"]);
    expect(problemsOf({ TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS: "0" })).toEqual(["TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS must be between 1 and 1000, got 0"]);
    expect(problemsOf({ TESSERA_EVENT_STDOUT: "yes" })).toEqual(["TESSERA_EVENT_STDOUT must be true or false"]);
  });
});
