/**
 * Mutual TLS (RFC 8705) end to end: tls_client_auth and self_signed_tls_client_auth clients get
 * certificate-bound tokens (`cnf["x5t#S256"]`) with the certificate from Tessera's own TLS
 * (curl --cert, a Node https agent) or from a trusted proxy's header; the header from anyone
 * else is ignored; AuthenticateToken, introspection and tessera/verifier refuse a bound token
 * with another certificate. Storage-backed behaviour runs on both databases.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { GrantType, TokenService } from "../../src/gen/tessera/v1/token_service_pb.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, requireToken, tokenOf } from "tessera/verifier";
import { ClientAdminService } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { IntrospectionService } from "../../src/gen/tessera/v1/introspection_service_pb.js";
import { adminApi, codeOf, registerClient } from "../support/clients.js";
import { certificateWorkspace, publicJwkOf, type CertificateWorkspace, type ClientCertificateFiles, type TestCertificateAuthority } from "../support/mtls.js";
import { ADMIN_CLIENT, STORAGE_KINDS, basicAuthorization, startTestServer, type TestServer } from "../support/test-server.js";
import { selfSignedCertificate, type TestCertificate } from "../support/tls.js";

const AUDIENCE = "https://payments.example";
/** curl runs beside the in-process server: asynchronously, so the server's event loop keeps turning. */
const curl = async (args: string[]) => (await promisify(execFile)("curl", ["-sS", "-m", "20", ...args])).stdout;
const HEADER = "x-forwarded-client-cert";

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** POST a form over plain HTTP from a chosen local address, with extra headers. */
function postForm(url: string, form: Record<string, string>, options: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<Answer> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "POST", localAddress: options.localAddress, headers: { "content-type": "application/x-www-form-urlencoded", ...options.headers } },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: JSON.parse(text || "{}") as Record<string, unknown> }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** POST a form over TLS, presenting a client certificate (or none). */
function postFormTls(url: string, form: Record<string, string>, options: { ca: Buffer; certificate?: ClientCertificateFiles; authorization?: string }): Promise<Answer> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method: "POST",
        ca: options.ca,
        ...(options.certificate ? { cert: options.certificate.cert, key: options.certificate.key } : {}),
        agent: false,
        headers: { "content-type": "application/x-www-form-urlencoded", ...(options.authorization ? { authorization: options.authorization } : {}) },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: JSON.parse(text || "{}") as Record<string, unknown> }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const escapedPem = (certificate: ClientCertificateFiles) => encodeURIComponent(certificate.cert.toString());
const xfcc = (certificate: ClientCertificateFiles) => `Hash=00;Cert="${escapedPem(certificate)}";Subject="CN=ignored"`;
const cnfOf = (token: unknown) => decodeJwt(String(token)).cnf as Record<string, unknown> | undefined;

describe("mutual TLS", () => {
  let workspace: CertificateWorkspace;
  let ca: TestCertificateAuthority;
  let billing: ClientCertificateFiles;
  let wrongSan: ClientCertificateFiles;
  let selfSigned: ClientCertificateFiles;
  let otherSelfSigned: ClientCertificateFiles;
  let caPath: string;

  beforeAll(() => {
    workspace = certificateWorkspace();
    ca = workspace.authority("client-ca");
    caPath = ca.certPath;
    billing = ca.issue("billing", { subject: "/O=Example/CN=billing", san: "DNS:billing.example" });
    wrongSan = ca.issue("intruder", { subject: "/O=Example/CN=intruder", san: "DNS:intruder.example" });
    selfSigned = workspace.selfSigned("self-signed");
    otherSelfSigned = workspace.selfSigned("other-self-signed");
  });
  afterAll(() => workspace?.remove());

  describe.each(STORAGE_KINDS)("behind a TLS-terminating proxy (%s storage)", (storage) => {
    let server: TestServer;
    let tlsClientId: string;
    let selfSignedClientId: string;
    let tlsClientSecret: string;

    beforeAll(async () => {
      server = await startTestServer({
        storage,
        env: { TESSERA_TLS_CLIENT_CA: caPath, TESSERA_TRUSTED_PROXIES: "127.0.0.1/32", TESSERA_CLIENT_CERT_HEADER: HEADER },
      });
      const tlsClient = await registerClient(server, {
        name: "billing",
        scopes: ["pay"],
        audiences: [AUDIENCE],
        tokenEndpointAuthMethod: "tls_client_auth",
        tlsClientAuthSanDns: "billing.example",
      });
      tlsClientId = tlsClient.clientId;
      tlsClientSecret = tlsClient.clientSecret;
      selfSignedClientId = (
        await registerClient(server, {
          name: "self-signed",
          scopes: ["pay"],
          audiences: [AUDIENCE],
          tokenEndpointAuthMethod: "self_signed_tls_client_auth",
          jwks: { keys: [publicJwkOf(selfSigned)] },
        })
      ).clientId;
    });
    afterAll(async () => server?.destroy());

    const token = (clientId: string, certificate: ClientCertificateFiles | undefined, options: { localAddress?: string; nginx?: boolean } = {}) =>
      postForm(`${server.url}/oauth/token`, { grant_type: "client_credentials", client_id: clientId }, {
        localAddress: options.localAddress,
        headers: certificate ? { [HEADER]: options.nginx ? escapedPem(certificate) : xfcc(certificate) } : {},
      });

    it("stores and returns the authentication method and the SAN (GetClient)", async () => {
      const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
      const { client } = await adminApi(server).getClient({ clientId: tlsClientId }, auth);
      expect(client).toMatchObject({ tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSanDns: "billing.example", tlsClientAuthSubjectDn: "" });
    });

    it("UpdateClient moves a secret client to tls_client_auth, after which its secret no longer works", async () => {
      const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
      const moved = await registerClient(server, { name: "moving", scopes: ["pay"], audiences: [AUDIENCE] });
      const viaSecret = () =>
        postForm(`${server.url}/oauth/token`, { grant_type: "client_credentials" }, { headers: { authorization: basicAuthorization(moved.clientId, moved.clientSecret) } });
      expect((await viaSecret()).status).toBe(200);
      const { client } = await adminApi(server).updateClient(
        {
          client: { clientId: moved.clientId, tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSubjectDn: "CN=billing, O=Example" },
          updateMask: { paths: ["token_endpoint_auth_method", "tls_client_auth_subject_dn"] },
        },
        auth,
      );
      expect(client).toMatchObject({ tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSubjectDn: "CN=billing, O=Example" });
      expect((await viaSecret()).body.error).toBe("invalid_client");
      expect(cnfOf((await token(moved.clientId, billing)).body.access_token)).toEqual({ "x5t#S256": billing.thumbprint });
      // Leaving the method alone while dropping its name would leave the client unusable: refused.
      expect(await codeOf(adminApi(server).updateClient({ client: { clientId: moved.clientId }, updateMask: { paths: ["tls_client_auth_subject_dn"] } }, auth))).toBe(3);
    });

    it("refuses registrations that break RFC 8705 §2's rules", async () => {
      const auth = { headers: { authorization: `Bearer ${await server.adminToken()}` } };
      const api = adminApi(server);
      expect(await codeOf(api.createClient({ name: "no-name", tokenEndpointAuthMethod: "tls_client_auth" }, auth))).toBe(3);
      expect(await codeOf(api.createClient({ name: "two", tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSanDns: "a.example", tlsClientAuthSanIp: "10.0.0.1" }, auth))).toBe(3);
      expect(await codeOf(api.createClient({ name: "stray", tlsClientAuthSanDns: "a.example" }, auth))).toBe(3);
      expect(await codeOf(api.createClient({ name: "keyless", tokenEndpointAuthMethod: "self_signed_tls_client_auth" }, auth))).toBe(3);
      expect(await codeOf(api.createClient({ name: "unknown", tokenEndpointAuthMethod: "none" }, auth))).toBe(3);
      expect(await codeOf(api.createClient({ name: "bad-dn", tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSubjectDn: "not a dn" }, auth))).toBe(3);
    });

    it("issues a certificate-bound token to a tls_client_auth client whose certificate a trusted proxy passed (Envoy XFCC)", async () => {
      const answer = await token(tlsClientId, billing);
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toEqual({ "x5t#S256": billing.thumbprint });
    });

    it("takes nginx's escaped PEM the same way", async () => {
      const answer = await token(tlsClientId, billing, { nginx: true });
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toEqual({ "x5t#S256": billing.thumbprint });
    });

    it("answers invalid_client for a certificate of the same CA with another SAN", async () => {
      const answer = await token(tlsClientId, wrongSan);
      expect(answer).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    });

    it("answers invalid_client for a self-signed certificate: tls_client_auth needs the chain", async () => {
      expect((await token(tlsClientId, selfSigned)).body.error).toBe("invalid_client");
    });

    it("ignores the header from an address that is not a trusted proxy", async () => {
      const answer = await token(tlsClientId, billing, { localAddress: "127.0.0.2" });
      expect(answer).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    });

    it("refuses the secret of a client registered for tls_client_auth", async () => {
      const answer = await postForm(`${server.url}/oauth/token`, { grant_type: "client_credentials" }, { headers: { authorization: basicAuthorization(tlsClientId, tlsClientSecret) } });
      expect(answer).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    });

    it("still takes the secret of a client without a method, and binds nothing without a certificate", async () => {
      const answer = await postForm(`${server.url}/oauth/token`, { grant_type: "client_credentials" }, { headers: { authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) } });
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toBeUndefined();
    });

    it("authenticates a self_signed_tls_client_auth client by its registered key, and refuses another key", async () => {
      const answer = await token(selfSignedClientId, selfSigned);
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toEqual({ "x5t#S256": selfSigned.thumbprint });
      expect((await token(selfSignedClientId, otherSelfSigned)).body.error).toBe("invalid_client");
    });

    it("AuthenticateToken checks the certificate thumbprint of a bound token", async () => {
      const bound = String((await token(tlsClientId, billing)).body.access_token);
      const auth = { headers: { authorization: `Bearer ${await server.adminToken("tessera:introspect")}` } };
      const introspection = createClient(IntrospectionService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
      const check = (thumbprint: string) => codeOf(introspection.authenticateToken({ token: bound, clientCertificateThumbprint: thumbprint }, auth));
      expect(await check(billing.thumbprint)).toBe("ok");
      expect(await check(wrongSan.thumbprint)).toBe(16);
      expect(await check("")).toBe(16);
      expect(await check("not-a-thumbprint")).toBe(3);
    });

    it("HTTP introspection with client_certificate_thumbprint answers active only for the bound certificate", async () => {
      const bound = String((await token(tlsClientId, billing)).body.access_token);
      const introspect = (extra: Record<string, string>) =>
        postForm(`${server.url}/oauth/introspect`, { token: bound, ...extra }, { headers: { authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret) } });
      expect((await introspect({ client_certificate_thumbprint: billing.thumbprint })).body.active).toBe(true);
      expect((await introspect({ client_certificate_thumbprint: wrongSan.thumbprint })).body.active).toBe(false);
      expect((await introspect({})).body.active).toBe(true);
    });

    it("publishes the two methods and tls_client_certificate_bound_access_tokens (RFC 8705 §2.1.1, §2.2.1, §3.3)", async () => {
      const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["tls_client_auth", "self_signed_tls_client_auth", "client_secret_basic"]));
      expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
      expect(metadata.mtls_endpoint_aliases).toBeUndefined();
    });

    if (storage === "embedded") {
      describe("tessera/verifier on a resource server that asks for client certificates", () => {
        let resourceTls: TestCertificate;
        let resource: https.Server;
        let resourceUrl: string;

        beforeAll(async () => {
          resourceTls = selfSignedCertificate();
          const verifier = createVerifier({ issuer: server.config.issuer, audience: AUDIENCE });
          const guard = requireToken(verifier, { scopes: ["pay"] });
          const { readFileSync } = await import("node:fs");
          resource = https.createServer(
            { cert: readFileSync(resourceTls.env.TESSERA_TLS_CERT), key: readFileSync(resourceTls.env.TESSERA_TLS_KEY), requestCert: true, rejectUnauthorized: false },
            (request, response) => guard(request, response, () => response.end(JSON.stringify({ client: tokenOf(request).clientId }))),
          );
          await new Promise<void>((resolve) => resource.listen(0, "127.0.0.1", resolve));
          resourceUrl = `https://127.0.0.1:${(resource.address() as AddressInfo).port}/payments`;
        });
        afterAll(async () => {
          await new Promise<void>((resolve) => resource?.close(() => resolve()));
          resourceTls?.remove();
        });

        const call = (accessToken: string, certificate: ClientCertificateFiles | undefined) =>
          new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
            const request = https.request(
              resourceUrl,
              { ca: resourceTls.ca, agent: false, ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}), headers: { authorization: `Bearer ${accessToken}` } },
              (response) => {
                response.resume();
                response.on("end", () => resolve({ status: response.statusCode!, challenge: response.headers["www-authenticate"] }));
              },
            );
            request.on("error", reject);
            request.end();
          });

        it("accepts a bound token over a connection with its certificate, and refuses it with another or none", async () => {
          const bound = String((await token(tlsClientId, billing)).body.access_token);
          expect((await call(bound, billing)).status).toBe(200);
          const refused = await call(bound, wrongSan);
          expect(refused.status).toBe(401);
          expect(refused.challenge).toContain('error="invalid_token"');
          expect((await call(bound, undefined)).status).toBe(401);
        });
      });
    }
  });

  describe("Tessera terminating TLS with TESSERA_TLS_CLIENT_CA", () => {
    let server: TestServer;
    let serverTls: TestCertificate;
    let baseUrl: string;
    let tlsClientId: string;
    let selfSignedClientId: string;

    beforeAll(async () => {
      serverTls = selfSignedCertificate();
      server = await startTestServer({ storage: "embedded", env: { ...serverTls.env, TESSERA_TLS_CLIENT_CA: caPath } });
      baseUrl = `https://127.0.0.1:${server.port}`;
      const adminToken = await postFormTls(`${baseUrl}/oauth/token`, { grant_type: "client_credentials" }, {
        ca: serverTls.ca,
        authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret),
      });
      const auth = { headers: { authorization: `Bearer ${String(adminToken.body.access_token)}` } };
      const api = createClient(ClientAdminService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: serverTls.ca } }));
      tlsClientId = (await api.createClient({ name: "billing", scopes: ["pay"], audiences: [AUDIENCE], tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSubjectDn: "CN=billing,O=Example" }, auth)).client!.clientId;
      selfSignedClientId = (
        await api.createClient({ name: "self", scopes: ["pay"], audiences: [AUDIENCE], tokenEndpointAuthMethod: "self_signed_tls_client_auth", jwks: { keys: [publicJwkOf(selfSigned)] } }, auth)
      ).client!.clientId;
    });
    afterAll(async () => {
      await server?.destroy();
      serverTls?.remove();
    });

    it("curl --cert gets a certificate-bound token for a tls_client_auth client (subject DN)", async () => {
      const output = await curl([
        "--cacert", serverTls.env.TESSERA_TLS_CERT, "--cert", billing.certPath, "--key", billing.keyPath,
        "-d", `client_id=${tlsClientId}`, "-d", "grant_type=client_credentials", `${baseUrl}/oauth/token`,
      ]);
      const body = JSON.parse(output) as Record<string, unknown>;
      expect(body.token_type).toBe("Bearer");
      expect(cnfOf(body.access_token)).toEqual({ "x5t#S256": billing.thumbprint });
    });

    it("curl --cert with a self-signed certificate gets a bound token for a self_signed_tls_client_auth client", async () => {
      const output = await curl([
        "--cacert", serverTls.env.TESSERA_TLS_CERT, "--cert", selfSigned.certPath, "--key", selfSigned.keyPath,
        "-d", `client_id=${selfSignedClientId}`, "-d", "grant_type=client_credentials", `${baseUrl}/oauth/token`,
      ]);
      expect(cnfOf((JSON.parse(output) as Record<string, unknown>).access_token)).toEqual({ "x5t#S256": selfSigned.thumbprint });
    });

    it("a Node https agent with a client certificate gets a bound token", async () => {
      const answer = await postFormTls(`${baseUrl}/oauth/token`, { grant_type: "client_credentials", client_id: tlsClientId }, { ca: serverTls.ca, certificate: billing });
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toEqual({ "x5t#S256": billing.thumbprint });
    });

    it("gRPC IssueToken with a client certificate gets a bound token (client_id, no credential)", async () => {
      const tokens = createClient(
        TokenService,
        createGrpcTransport({ baseUrl, nodeOptions: { ca: serverTls.ca, cert: billing.cert, key: billing.key } }),
      );
      const answer = await tokens.issueToken({ clientId: tlsClientId, grantType: GrantType.CLIENT_CREDENTIALS });
      expect(cnfOf(answer.accessToken)).toEqual({ "x5t#S256": billing.thumbprint });
    });

    it("a self-signed certificate never satisfies tls_client_auth, and a wrong subject is invalid_client", async () => {
      expect((await postFormTls(`${baseUrl}/oauth/token`, { grant_type: "client_credentials", client_id: tlsClientId }, { ca: serverTls.ca, certificate: selfSigned })).body.error).toBe("invalid_client");
      expect((await postFormTls(`${baseUrl}/oauth/token`, { grant_type: "client_credentials", client_id: tlsClientId }, { ca: serverTls.ca, certificate: wrongSan })).body.error).toBe("invalid_client");
    });

    it("still serves callers without a certificate (requested, not required), without binding their tokens", async () => {
      const answer = await postFormTls(`${baseUrl}/oauth/token`, { grant_type: "client_credentials" }, {
        ca: serverTls.ca,
        authorization: basicAuthorization(ADMIN_CLIENT.clientId, ADMIN_CLIENT.clientSecret),
      });
      expect(answer.status).toBe(200);
      expect(cnfOf(answer.body.access_token)).toBeUndefined();
    });
  });
});
