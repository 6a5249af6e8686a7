/**
 * Distinguished names for `tls_client_auth` (RFC 8705 §2.1.2): the registered
 * `tls_client_auth_subject_dn` is an RFC 4514 string, compared with the certificate's subject
 * attribute by attribute. RFC 8705 leaves the comparison to the server; ours: the same
 * attributes in the same order, attribute types by name or OID without regard to case, values
 * with insignificant spaces collapsed and compared without regard to case (the caseIgnoreMatch
 * of RFC 4517 §4.2.11 that CN, O, OU, C, L, ST and DC are defined with; we apply it to every
 * attribute, a looser rule only for the rare case-exact ones).
 */

/** One attribute of a name: its type, normalised, and its value, normalised. */
export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

/** Longest registered DN accepted: far above any real subject, bounds the parser. */
export const MAX_DN_LENGTH = 1_024;

/** Short names and the OIDs (RFC 4514 §3, RFC 4519) that mean the same attribute type. */
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  "2.5.4.3": "cn",
  "2.5.4.6": "c",
  "2.5.4.7": "l",
  "2.5.4.8": "st",
  "2.5.4.9": "street",
  "2.5.4.10": "o",
  "2.5.4.11": "ou",
  "2.5.4.5": "serialnumber",
  "0.9.2342.19200300.100.1.25": "dc",
  "0.9.2342.19200300.100.1.1": "uid",
  "1.2.840.113549.1.9.1": "emailaddress",
  e: "emailaddress",
  email: "emailaddress",
  s: "st",
};

function normaliseType(type: string): string {
  const lower = type.trim().toLowerCase().replace(/^oid\./, "");
  return TYPE_ALIASES[lower] ?? lower;
}

function normaliseValue(value: string): string {
  return value.trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * The attributes of an RFC 4514 string, most significant (the root, e.g. C) first, as a
 * certificate lists them; undefined when the string is not a DN. Multi-valued RDNs ("+") count
 * as their attributes in the order written.
 */
export function parseRfc4514(dn: string): NameAttribute[] | undefined {
  if (dn.length === 0 || dn.length > MAX_DN_LENGTH) return undefined;
  const rdns: NameAttribute[][] = [];
  let current: NameAttribute[] = [];
  let index = 0;
  while (index <= dn.length) {
    const equals = dn.indexOf("=", index);
    if (equals < 0) return undefined;
    const type = dn.slice(index, equals);
    if (!/^\s*(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*$/.test(type)) return undefined;
    let value = "";
    let cursor = equals + 1;
    if (dn[cursor] === "#") return undefined; // hex-encoded BER values are not worth matching
    for (; cursor < dn.length; cursor++) {
      const char = dn[cursor]!;
      if (char === "," || char === "+") break;
      if (char === "\\") {
        const next = dn.slice(cursor + 1, cursor + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(next)) {
          // Hex pairs spell UTF-8 bytes; collect consecutive ones before decoding.
          const bytes: number[] = [];
          while (dn[cursor] === "\\" && /^[0-9A-Fa-f]{2}$/.test(dn.slice(cursor + 1, cursor + 3))) {
            bytes.push(Number.parseInt(dn.slice(cursor + 1, cursor + 3), 16));
            cursor += 3;
          }
          value += Buffer.from(bytes).toString("utf8");
          cursor--;
          continue;
        }
        if (cursor + 1 >= dn.length) return undefined;
        value += dn[cursor + 1];
        cursor++;
        continue;
      }
      value += char;
    }
    current.push({ type: normaliseType(type), value: normaliseValue(value) });
    if (dn[cursor] !== "+") {
      rdns.push(current);
      current = [];
    }
    index = cursor + 1;
    if (cursor >= dn.length) break;
  }
  // RFC 4514 §2.1 writes the last RDN of the sequence first.
  return rdns.reverse().flat();
}

/**
 * The attributes of a certificate subject as Node's X509Certificate.subject prints it: one
 * `type=value` per line in the certificate's order, special characters escaped with a
 * backslash (or, in some versions, the value printed as a JSON string).
 */
export function parseNodeSubject(subject: string): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const line of subject.split("\n")) {
    const equals = line.indexOf("=");
    if (equals <= 0) continue;
    let value = line.slice(equals + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // Left as printed: it then matches only a registered DN spelling it the same way.
      }
    } else {
      value = value.replace(/\\(.)/g, "$1");
    }
    attributes.push({ type: normaliseType(line.slice(0, equals)), value: normaliseValue(value) });
  }
  return attributes;
}

/** Whether two names hold the same attributes in the same order. */
export function sameName(a: readonly NameAttribute[], b: readonly NameAttribute[]): boolean {
  return a.length === b.length && a.every((attribute, index) => attribute.type === b[index]!.type && attribute.value === b[index]!.value);
}
