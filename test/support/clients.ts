/**
 * Registering clients through the real admin API, for tests that need one.
 */
import { type Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ClientAdminService, type CreateClientRequestSchema } from "../../src/gen/tessera/v1/client_admin_service_pb.js";
import { expect } from "vitest";
import { basicAuthorization, type TestServer } from "./test-server.js";

export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export function adminApi(server: TestServer) {
  return createClient(ClientAdminService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
}

export async function registerClient(
  server: TestServer,
  request: MessageInitShape<typeof CreateClientRequestSchema>,
): Promise<RegisteredClient> {
  const created = await adminApi(server).createClient(request, {
    headers: { authorization: `Bearer ${await server.adminToken()}` },
  });
  return { clientId: created.client!.clientId, clientSecret: created.clientSecret };
}

/** An access token for the client by client credentials (client_secret_basic) at /oauth/token. */
export async function clientCredentialsToken(server: TestServer, client: RegisteredClient): Promise<string> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization(client.clientId, client.clientSecret) },
    body: "grant_type=client_credentials",
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** "ok", or the Connect code the call failed with. */
export async function codeOf(promise: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof ConnectError) return error.code;
    throw error;
  }
}
