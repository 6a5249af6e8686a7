/**
 * private_key_jwt under draft-ietf-oauth-rfc7523bis: the assertion's `aud` is the issuer
 * identifier, as a string or an array holding only it; the token endpoint URL is refused unless
 * an operator's transition date has not passed yet; `typ: client-authentication+jwt` is taken.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { TesseraError } from "../../../src/errors.js";
import { AssertionReplayCache } from "../../../src/oauth/client-authentication/assertion-replay-cache.js";
import { ClientAuthenticator } from "../../../src/oauth/client-authentication/client-authenticator.js";
import type { ClientAuthenticationContext } from "../../../src/oauth/client-authentication/context.js";
import { JWT_BEARER_ASSERTION_TYPE } from "../../../src/oauth/client-authentication/private-key-jwt.js";
import { inMemoryCore, ISSUER, NOW, testClient } from "../token/in-memory-core.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const CLIENT = testClient({ id: "signer", jwks: { keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "ES256", use: "sig" }] } });
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;

function authenticator(extra: Partial<ClientAuthenticationContext> = {}) {
  const { registry } = inMemoryCore([CLIENT]);
  return new ClientAuthenticator({ registry, now: () => NOW, assertionAudience: ISSUER, replayCache: new AssertionReplayCache(), ...extra });
}

function assertion(aud: string | string[], typ?: string): Promise<string> {
  const now = Math.floor(NOW.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "k1", ...(typ ? { typ } : {}) })
    .setIssuer("signer").setSubject("signer").setAudience(aud).setJti(randomUUID()).setIssuedAt(now).setExpirationTime(now + 60)
    .sign(privateKey);
}

async function outcome(auth: ClientAuthenticator, clientAssertion: string): Promise<string> {
  try {
    const record = await auth.authenticate({ method: "private_key_jwt", clientId: "signer", clientAssertionType: JWT_BEARER_ASSERTION_TYPE, clientAssertion });
    return record.client.id;
  } catch (error) {
    if (error instanceof TesseraError) return error.code;
    throw error;
  }
}

describe("private_key_jwt audience (draft-ietf-oauth-rfc7523bis)", () => {
  it("accepts the issuer as a string or as an array holding only it", async () => {
    const auth = authenticator();
    expect(await outcome(auth, await assertion(ISSUER))).toBe("signer");
    expect(await outcome(auth, await assertion([ISSUER]))).toBe("signer");
  });

  it("refuses the token endpoint URL, an array with anything besides the issuer, and other audiences", async () => {
    const auth = authenticator();
    expect(await outcome(auth, await assertion(TOKEN_ENDPOINT))).toBe("invalid_client");
    expect(await outcome(auth, await assertion([ISSUER, TOKEN_ENDPOINT]))).toBe("invalid_client");
    expect(await outcome(auth, await assertion([ISSUER, "https://other.example"]))).toBe("invalid_client");
    expect(await outcome(auth, await assertion("https://other.example"))).toBe("invalid_client");
  });

  it("accepts typ client-authentication+jwt and JWT, and refuses another explicit type", async () => {
    const auth = authenticator();
    expect(await outcome(auth, await assertion(ISSUER, "client-authentication+jwt"))).toBe("signer");
    expect(await outcome(auth, await assertion(ISSUER, "JWT"))).toBe("signer");
    expect(await outcome(auth, await assertion(ISSUER, "at+jwt"))).toBe("invalid_client");
  });

  it("accepts the token endpoint URL until the transition date, and not after", async () => {
    const before = authenticator({ legacyAssertionAudiences: { audiences: [TOKEN_ENDPOINT], until: new Date(NOW.getTime() + 86_400_000) } });
    expect(await outcome(before, await assertion(TOKEN_ENDPOINT))).toBe("signer");
    const after = authenticator({ legacyAssertionAudiences: { audiences: [TOKEN_ENDPOINT], until: new Date(NOW.getTime() - 1) } });
    expect(await outcome(after, await assertion(TOKEN_ENDPOINT))).toBe("invalid_client");
  });
});
