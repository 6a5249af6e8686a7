/**
 * The machine's in-process ceilings for the work Tessera's hot paths do, with no HTTP around
 * them: signing a JWT-sized input with the callback form of crypto.sign (libuv's thread pool,
 * so every core works) at a fixed number in flight, the synchronous form for reference,
 * verifying with crypto.verify and a cached KeyObject (what Tessera's verifier does), and jose's
 * jwtVerify. Run by bench/run.ts as its own process; prints one JSON object on stdout:
 * { "<scenario>": { requestsPerSecond, p50Ms, p99Ms, errors, inFlight, serverCpuMsPerRequest } } —
 * the last is CPU per operation, which other work on the machine barely changes.
 *
 *   node --import tsx bench/ceilings.ts [--duration 8] [--warmup 2] [--concurrency 32] [--only name,…]
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { parseArgs } from "node:util";
import { SignJWT, jwtVerify } from "jose";
import { percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
    only: { type: "string" },
  },
});
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const concurrency = Number(values.concurrency);
const only = values.only?.split(",").filter(Boolean);

interface CeilingResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly inFlight: number;
  /** CPU time of this process (all threads) per operation over the measured window. */
  readonly serverCpuMsPerRequest: number;
}

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const KEYS = {
  RS256: { privateKey: rsa.privateKey, publicKey: rsa.publicKey, options: (key: KeyObject) => key },
  ES256: { privateKey: ec.privateKey, publicKey: ec.publicKey, options: (key: KeyObject) => ({ key, dsaEncoding: "ieee-p1363" as const }) },
};

// A signing input of the size Tessera signs (header + RFC 9068 claims, ~330 bytes).
const issuedAt = Math.floor(Date.now() / 1000);
const claims = {
  iss: "http://127.0.0.1:8080",
  sub: "bench-000001",
  aud: "http://127.0.0.1:8080",
  exp: issuedAt + 3600,
  iat: issuedAt,
  nbf: issuedAt,
  jti: "0123456789abcdefghijkl",
  client_id: "bench-000001",
  scope: "bench:read",
};
const signingInput = Buffer.from(
  `${Buffer.from(JSON.stringify({ alg: "RS256", kid: "k1", typ: "at+jwt" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`,
  "latin1",
);

/** Keeps `inFlight` operations going for warm-up plus duration; counts those that end in the measured window. */
async function closedLoop(inFlight: number, operation: () => Promise<void>): Promise<CeilingResult> {
  const latencies: number[] = [];
  let errors = 0;
  const warmupEnds = performance.now() + warmupMs;
  const ends = warmupEnds + durationMs;
  const cpu = cpuWindow(warmupEnds);
  const worker = async () => {
    while (performance.now() < ends) {
      cpu.check();
      const started = performance.now();
      try {
        await operation();
        if (started >= warmupEnds) latencies.push(performance.now() - started);
      } catch {
        if (started >= warmupEnds) errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return summary(latencies, errors, inFlight, cpu.end());
}

/** CPU time (process.cpuUsage: all threads) from the first check() after `from` until end(). */
function cpuWindow(from: number): { check(): void; end(): number } {
  let atStart: NodeJS.CpuUsage | undefined;
  return {
    check() {
      if (atStart === undefined && performance.now() >= from) atStart = process.cpuUsage();
    },
    end() {
      const used = process.cpuUsage(atStart);
      return (used.user + used.system) / 1000;
    },
  };
}

/** The same for a synchronous operation: one at a time, one core. */
function syncLoop(operation: () => void): CeilingResult {
  const latencies: number[] = [];
  const warmupEnds = performance.now() + warmupMs;
  const ends = warmupEnds + durationMs;
  const cpu = cpuWindow(warmupEnds);
  for (let now = performance.now(); now < ends; ) {
    cpu.check();
    operation();
    const after = performance.now();
    if (now >= warmupEnds) latencies.push(after - now);
    now = after;
  }
  return summary(latencies, 0, 1, cpu.end());
}

function summary(latencies: number[], errors: number, inFlight: number, cpuMs: number): CeilingResult {
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: Math.round(latencies.length / (durationMs / 1000)),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    inFlight,
    serverCpuMsPerRequest: latencies.length > 0 ? Math.round((1000 * cpuMs) / latencies.length) / 1000 : 0,
  };
}

function signWithCallback(alg: keyof typeof KEYS): Promise<void> {
  const key = KEYS[alg];
  return new Promise((resolve, reject) => {
    sign("sha256", signingInput, key.options(key.privateKey), (error) => (error ? reject(error) : resolve()));
  });
}

async function joseToken(alg: keyof typeof KEYS): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, kid: "k1", typ: "at+jwt" }).sign(KEYS[alg].privateKey);
}

const scenarios: Record<string, () => Promise<CeilingResult>> = {
  "ceiling-sign-rs256": () => closedLoop(concurrency, () => signWithCallback("RS256")),
  "ceiling-sign-es256": () => closedLoop(concurrency, () => signWithCallback("ES256")),
  "ceiling-sign-rs256-sync": async () => syncLoop(() => sign("sha256", signingInput, rsa.privateKey)),
  "ceiling-verify-rs256": async () => {
    const signature = sign("sha256", signingInput, rsa.privateKey);
    return syncLoop(() => {
      if (!verify("sha256", signingInput, rsa.publicKey, signature)) throw new Error("bad signature");
    });
  },
  "ceiling-verify-es256": async () => {
    const signature = sign("sha256", signingInput, KEYS.ES256.options(ec.privateKey));
    return syncLoop(() => {
      if (!verify("sha256", signingInput, KEYS.ES256.options(ec.publicKey), signature)) throw new Error("bad signature");
    });
  },
  "ceiling-jose-verify-rs256": async () => {
    const token = await joseToken("RS256");
    return closedLoop(concurrency, async () => void (await jwtVerify(token, rsa.publicKey, { algorithms: ["RS256"] })));
  },
  "ceiling-jose-verify-es256": async () => {
    const token = await joseToken("ES256");
    return closedLoop(concurrency, async () => void (await jwtVerify(token, ec.publicKey, { algorithms: ["ES256"] })));
  },
};

const results: Record<string, CeilingResult> = {};
for (const [name, run] of Object.entries(scenarios)) {
  if (only && !only.includes(name)) continue;
  results[name] = await run();
}
process.stdout.write(`${JSON.stringify(results)}\n`);
