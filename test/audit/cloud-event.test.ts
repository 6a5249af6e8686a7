import { describe, expect, it } from "vitest";
import { cloudEventType, toCloudEvent } from "../../src/audit/cloud-event.js";
import { retryDelayMs } from "../../src/audit/event-delivery.js";

const base = { id: 42n, time: new Date("2026-12-03T10:00:00.000Z"), actor: "tessera-admin", outcome: "success" as const };

describe("audit events as CloudEvents", () => {
  it.each([
    ["client.create", "dev.tessera.client.created"],
    ["client.secret_rotation.start", "dev.tessera.client.secret_rotation.started"],
    ["trusted_issuer.delete", "dev.tessera.trusted_issuer.deleted"],
    ["admin.denied", "dev.tessera.admin.denied"],
    ["key.rotate", "dev.tessera.key.rotated"],
  ])("names the action %s as the type %s", (action, type) => {
    expect(cloudEventType(action)).toBe(type);
  });

  it("carries the audit id as the event id and the resource as the subject", () => {
    expect(toCloudEvent({ ...base, action: "client.update", targetClientId: "billing", requestId: "r1", details: { fields: ["name"] } }, "https://auth.example")).toEqual({
      specversion: "1.0",
      id: "42",
      source: "https://auth.example",
      type: "dev.tessera.client.updated",
      subject: "billing",
      time: "2026-12-03T10:00:00.000Z",
      datacontenttype: "application/json",
      data: { action: "client.update", actor: "tessera-admin", outcome: "success", targetClientId: "billing", requestId: "r1", details: { fields: ["name"] } },
    });
    expect(toCloudEvent({ ...base, action: "trusted_issuer.create", details: { issuer: "https://issuer.example" } }, "s").subject).toBe("https://issuer.example");
    expect(toCloudEvent({ ...base, action: "federation_policy.delete", details: { federationPolicyId: "fp_1" } }, "s").subject).toBe("fp_1");
    expect(toCloudEvent({ ...base, action: "delegation_policy.update", targetClientId: "c", details: { delegationPolicyId: "dp_1" } }, "s").subject).toBe("dp_1");
    expect(toCloudEvent({ ...base, action: "admin.denied", details: {} }, "s")).not.toHaveProperty("subject");
  });
});

describe("retry backoff", () => {
  const policy = { initialBackoffMs: 1_000, maxBackoffMs: 60_000 };
  it("doubles per attempt up to the cap, jittered into the upper half", () => {
    expect([1, 2, 3, 4].map((attempts) => retryDelayMs(attempts, policy, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(4, policy, () => 0)).toBe(4_000);
    expect(retryDelayMs(50, policy, () => 1)).toBe(60_000);
    expect(retryDelayMs(50, policy, () => 0)).toBe(30_000);
  });
});
