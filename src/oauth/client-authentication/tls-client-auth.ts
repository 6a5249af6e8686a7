/**
 * tls_client_auth (RFC 8705 §2.1): the client sends its `client_id` and no secret over a
 * connection whose client certificate chains to TESSERA_TLS_CLIENT_CA, and the certificate
 * carries the one subject DN or SAN the client registered (§2.1.2). DNs compare attribute by
 * attribute (distinguished-name.ts); DNS names and e-mail addresses without regard to case
 * (a DNS name's trailing dot dropped); IP addresses by value (any spelling of the same address);
 * URIs exactly.
 */
import { X509Certificate } from "node:crypto";
import { BlockList, isIP } from "node:net";
import type { Client, ClientRecord } from "../../clients/client.js";
import { parseNodeSubject, parseRfc4514, sameName } from "../../clients/distinguished-name.js";
import type { PresentedClientCredentials } from "./presented-credentials.js";
import type { ClientAuthenticationContext } from "./context.js";
import { invalidClient } from "./invalid-client.js";

export async function authenticateWithTlsClientAuth(
  credentials: PresentedClientCredentials,
  context: ClientAuthenticationContext,
): Promise<ClientRecord> {
  const { clientId, clientCertificate } = credentials;
  // Only a certificate that chains to the configured CAs: a self-signed one proves a key, not a name.
  if (!clientId || !clientCertificate?.chainVerified) throw invalidClient();
  const record = context.registry.find(clientId);
  if (!record || record.client.tokenEndpointAuthMethod !== "tls_client_auth") throw invalidClient();
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(clientCertificate.der);
  } catch {
    throw invalidClient();
  }
  if (!certificateNames(certificate, record.client)) throw invalidClient();
  return record;
}

/** Whether the certificate carries the subject DN or the SAN the client registered. */
export function certificateNames(certificate: X509Certificate, client: Client): boolean {
  if (client.tlsClientAuthSubjectDn !== null) {
    const registered = parseRfc4514(client.tlsClientAuthSubjectDn);
    return registered !== undefined && sameName(registered, parseNodeSubject(certificate.subject));
  }
  const names = subjectAltNames(certificate.subjectAltName);
  if (client.tlsClientAuthSanDns !== null) {
    const wanted = dnsName(client.tlsClientAuthSanDns);
    return names.some((name) => name.type === "DNS" && dnsName(name.value) === wanted);
  }
  if (client.tlsClientAuthSanUri !== null) {
    const wanted = client.tlsClientAuthSanUri;
    return names.some((name) => name.type === "URI" && name.value === wanted);
  }
  if (client.tlsClientAuthSanIp !== null) {
    const family = isIP(client.tlsClientAuthSanIp);
    if (family === 0) return false;
    const wanted = new BlockList();
    wanted.addAddress(client.tlsClientAuthSanIp, family === 6 ? "ipv6" : "ipv4");
    return names.some((name) => {
      const candidate = isIP(name.value);
      return name.type === "IP Address" && candidate !== 0 && wanted.check(name.value, candidate === 6 ? "ipv6" : "ipv4");
    });
  }
  if (client.tlsClientAuthSanEmail !== null) {
    const wanted = client.tlsClientAuthSanEmail.toLowerCase();
    return names.some((name) => name.type === "email" && name.value.toLowerCase() === wanted);
  }
  return false;
}

function dnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * Node prints the SAN extension as `DNS:a.example, URI:spiffe://x, IP Address:10.0.0.1,
 * email:a@b.example`, quoting (as JSON strings) values that hold separators.
 */
function subjectAltNames(text: string | undefined): { type: string; value: string }[] {
  if (!text) return [];
  const names: { type: string; value: string }[] = [];
  let index = 0;
  while (index < text.length) {
    const colon = text.indexOf(":", index);
    if (colon < 0) break;
    const type = text.slice(index, colon).trim();
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        value = "";
      }
      next = text.indexOf(",", end + 1);
    } else {
      next = text.indexOf(", ", colon + 1);
      value = text.slice(colon + 1, next < 0 ? text.length : next);
    }
    names.push({ type, value });
    if (next < 0) break;
    index = next + 1;
  }
  return names;
}
