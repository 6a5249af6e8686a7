/**
 * JwsSigner: RSA on libuv's thread pool, ECDSA and Ed25519 in batches on one worker thread.
 * Every signature must verify under the signing key and belong to the payload it was asked for,
 * however the jobs were batched.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { Worker } from "node:worker_threads";
import { compactVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import type { SigningAlgorithm } from "../../src/keys/algorithms.js";
import { encodeJwsHeader } from "../../src/keys/jwt.js";
import { JwsSigner } from "../../src/keys/jws-signer.js";

function keyPair(alg: SigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case "RS256":
    case "PS256":
      return generateKeyPairSync("rsa", { modulusLength: 2048 });
    case "ES256":
      return generateKeyPairSync("ec", { namedCurve: "P-256" });
    case "EdDSA":
      return generateKeyPairSync("ed25519");
  }
}

async function expectSignedBy(token: string, publicKey: KeyObject, expected: { alg: SigningAlgorithm; payload: object }): Promise<void> {
  const { payload, protectedHeader } = await compactVerify(token, publicKey, { algorithms: [expected.alg] });
  expect(protectedHeader.alg).toBe(expected.alg);
  expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(expected.payload);
}

const signers: JwsSigner[] = [];
function newSigner(options: ConstructorParameters<typeof JwsSigner>[0] = {}): JwsSigner {
  const signer = new JwsSigner(options);
  signers.push(signer);
  return signer;
}
afterEach(async () => {
  await Promise.all(signers.splice(0).map((signer) => signer.close()));
});

describe("JwsSigner", () => {
  it.each(["RS256", "PS256", "ES256", "EdDSA"] as const)("signs %s so that jose verifies it with the public key", async (alg) => {
    const { privateKey, publicKey } = keyPair(alg);
    const payload = { sub: "svc", n: 1 };
    const token = await newSigner().sign({ alg, encodedHeader: encodeJwsHeader({ alg, kid: "k1", typ: "at+jwt" }), payload, privateKey });
    await expectSignedBy(token, publicKey, { alg, payload });
  });

  it("gives each of many concurrent jobs, batched together, its own signature", async () => {
    const signer = newSigner();
    const ec = keyPair("ES256");
    const ed = keyPair("EdDSA");
    const jobs = Array.from({ length: 400 }, (_, n) => {
      const alg: SigningAlgorithm = n % 3 === 0 ? "EdDSA" : "ES256";
      const pair = alg === "EdDSA" ? ed : ec;
      const payload = { jti: `token-${n}` };
      return { alg, pair, payload, token: signer.sign({ alg, encodedHeader: encodeJwsHeader({ alg, kid: alg }), payload, privateKey: pair.privateKey }) };
    });
    for (const job of jobs) await expectSignedBy(await job.token, job.pair.publicKey, { alg: job.alg, payload: job.payload });
  });

  it("keeps signing with more distinct keys than the worker holds at once", async () => {
    const signer = newSigner();
    const pairs = Array.from({ length: 70 }, () => keyPair("ES256"));
    for (let round = 0; round < 2; round++) {
      const tokens = pairs.map((pair, n) => signer.sign({ alg: "ES256", encodedHeader: encodeJwsHeader({ alg: "ES256", kid: `k${n}` }), payload: { n, round }, privateKey: pair.privateKey }));
      for (const [n, token] of tokens.entries()) await expectSignedBy(await token, pairs[n]!.publicKey, { alg: "ES256", payload: { n, round } });
    }
  });

  it("fails a job whose key cannot sign its algorithm, and goes on signing", async () => {
    const signer = newSigner();
    const ec = keyPair("ES256");
    // Ed25519 takes no digest, so signing "ES256" (ECDSA with SHA-256) with it fails in OpenSSL.
    const wrong = signer.sign({ alg: "ES256", encodedHeader: encodeJwsHeader({ alg: "ES256", kid: "x" }), payload: {}, privateKey: keyPair("EdDSA").privateKey });
    await expect(wrong).rejects.toThrow(/signing failed/);
    const token = await signer.sign({ alg: "ES256", encodedHeader: encodeJwsHeader({ alg: "ES256", kid: "x" }), payload: { ok: true }, privateKey: ec.privateKey });
    await expectSignedBy(token, ec.publicKey, { alg: "ES256", payload: { ok: true } });
  });

  it("fails the jobs of a worker that dies, reports it, and signs on a new worker", async () => {
    const errors: Error[] = [];
    const signer = newSigner({ onWorkerError: (error) => errors.push(error) });
    const ec = keyPair("ES256");
    const job = (n: number) => signer.sign({ alg: "ES256", encodedHeader: encodeJwsHeader({ alg: "ES256", kid: "k" }), payload: { n }, privateKey: ec.privateKey });
    await job(0);
    // Enough work that the worker cannot finish it all before it is stopped, however fast the
    // machine: the jobs still in it when it dies must fail, none may hang.
    const pending = Array.from({ length: 1000 }, (_, n) => job(1 + n));
    // Nothing outside can reach the worker; the test stands in for a crash by stopping it.
    await (signer as unknown as { worker: Worker }).worker.terminate();
    const settled = await Promise.allSettled(pending);
    expect(settled.filter((result) => result.status === "rejected").length).toBeGreaterThan(0);
    const signed = settled.find((result): result is PromiseFulfilledResult<string> => result.status === "fulfilled");
    if (signed) await expectSignedBy(signed.value, ec.publicKey, { alg: "ES256", payload: { n: 1 + settled.indexOf(signed) } });
    expect(errors).toHaveLength(1);
    await expectSignedBy(await job(5000), ec.publicKey, { alg: "ES256", payload: { n: 5000 } });
  });

  it("refuses to sign once closed, whatever the algorithm", async () => {
    const signer = newSigner();
    await signer.close();
    for (const alg of ["RS256", "ES256"] as const) {
      const { privateKey } = keyPair(alg);
      await expect(signer.sign({ alg, encodedHeader: encodeJwsHeader({ alg, kid: "k" }), payload: {}, privateKey })).rejects.toThrow(/closed/);
    }
  });
});
