/**
 * Signing compact JWS (RFC 7515 §7.1) off the event loop, where each algorithm is cheapest.
 *
 * RSA (RS256, PS256), an expensive signature: the callback form of crypto.sign runs it on
 * libuv's thread pool (one thread per core, see src/main.cts), so every core signs; handing a
 * job over costs the event loop little next to the signature.
 *
 * ECDSA P-256 and Ed25519, a cheap signature: there the hand-over is a large part of the work,
 * and the event loop stalls in it as pool threads wake. They go to one worker thread instead,
 * in batches — the jobs of one I/O phase travel together in one message after it, and their
 * signatures in one message back. That spends less CPU per token, less of it on the event
 * loop, and less memory than the pool; throughput stays the same, since
 * the batch's wait costs latency what it saves in CPU when the load does not saturate the cores.
 * RSA batched the same way (a worker per core) is no faster than the pool, so RSA stays there.
 */
import { sign as cryptoSign, type KeyObject } from "node:crypto";
import { Worker } from "node:worker_threads";
import { ALGORITHM_SPECS, type AlgorithmSpec, type SigningAlgorithm } from "./algorithms.js";
import { jwsSigningInput, type JwtClaims } from "./jwt.js";

export interface JwsToSign {
  readonly alg: SigningAlgorithm;
  /** encodeJwsHeader() of a header naming `alg`. */
  readonly encodedHeader: string;
  readonly payload: JwtClaims;
  readonly privateKey: KeyObject;
}

/** Keys the worker holds at most; past it, it forgets them all and is sent the ones it needs again. */
const WORKER_KEY_CAPACITY = 64;

/**
 * The worker's whole program. Plain CommonJS evaluated as a string, so that it runs the same
 * from dist/ and from the sources under tsx or vitest, with nothing to resolve or compile.
 * Per batch: forget keys if told, learn new ones, sign each job; a failed job answers its error.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { sign } = require("node:crypto");
const specs = workerData.specs;
const keys = new Map();
parentPort.on("message", (batch) => {
  if (batch.reset) keys.clear();
  for (let i = 0; i < batch.keys.length; i += 2) keys.set(batch.keys[i], batch.keys[i + 1]);
  const inputs = batch.inputs.split("\\n");
  const answers = new Array(inputs.length);
  let failed = false;
  for (let i = 0; i < inputs.length; i++) {
    try {
      const spec = specs[batch.algs[i]];
      answers[i] = sign(spec.digest, Buffer.from(inputs[i], "latin1"), { key: keys.get(batch.keyIds[i]), ...spec.options }).toString("base64url");
    } catch (error) {
      answers[i] = { error: String(error && error.message) };
      failed = true;
    }
  }
  parentPort.postMessage(failed ? answers : answers.join("\\n"));
});
`;

interface Job {
  readonly keyId: number;
  readonly key: KeyObject;
  readonly alg: SigningAlgorithm;
  readonly signingInput: string;
  resolve(token: string): void;
  reject(error: Error): void;
}
/** What the worker answers per job: the base64url signature, or why it failed. */
type Answer = string | { readonly error: string };
/**
 * The worker's answer to a batch: the signatures joined by newlines (base64url has none), or,
 * when a job failed, one answer per job.
 */
type BatchAnswer = string | Answer[];

export class JwsSigner {
  private worker: Worker | undefined;
  private closed = false;
  /** Jobs not yet posted. */
  private queued: Job[] = [];
  private flushScheduled = false;
  /** Posted batches, oldest first; the worker answers them in order. */
  private readonly inFlight: Job[][] = [];
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private nextKeyId = 1;
  /** Ids of the keys the current worker holds or will hold once it reads what was posted. */
  private readonly sentKeys = new Set<number>();

  constructor(private readonly options: { onWorkerError?: (error: Error) => void } = {}) {}

  /** The compact JWS: `header.payload.signature`. */
  sign(jws: JwsToSign): Promise<string> {
    if (this.closed) return Promise.reject(new Error("the JWS signer is closed"));
    const signingInput = jwsSigningInput(jws.encodedHeader, jws.payload);
    const spec = ALGORITHM_SPECS[jws.alg];
    if (spec.signatureCost === "high") return signOnThreadPool(spec, signingInput, jws.privateKey);
    return new Promise((resolve, reject) => {
      this.queued.push({ keyId: this.keyIdFor(jws.privateKey), key: jws.privateKey, alg: jws.alg, signingInput, resolve, reject });
      // Everything queued during the current I/O phase travels in one message after it, even
      // to an idle worker: requests arrive in bursts, and each message costs both threads a
      // wake-up and a copy whatever it carries.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.scheduledFlush);
      }
    });
  }

  /** Stops the worker; jobs still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error("the JWS signer is closed"));
    await worker?.terminate();
  }

  private keyIdFor(key: KeyObject): number {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = this.nextKeyId++;
      this.keyIds.set(key, id);
    }
    return id;
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.queued.length === 0) return;
    const jobs = this.queued;
    this.queued = [];
    const worker = this.worker ?? this.startWorker();
    // Keys rotate rarely, but a long-lived process must not pile them up in the worker: past
    // the capacity it forgets them all and is sent this batch's again.
    let unsent: Set<number> | undefined;
    for (const job of jobs) if (!this.sentKeys.has(job.keyId)) (unsent ??= new Set()).add(job.keyId);
    const reset = unsent !== undefined && this.sentKeys.size + unsent.size > WORKER_KEY_CAPACITY;
    if (reset) this.sentKeys.clear();
    // Flat lists and one string: a structured clone costs per value, so a batch is a few values
    // however many jobs it holds. Signing inputs are base64url and dots, never a newline.
    const keys: (number | KeyObject)[] = [];
    const keyIds = new Array<number>(jobs.length);
    const algs = new Array<SigningAlgorithm>(jobs.length);
    const inputs = new Array<string>(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      keyIds[i] = job.keyId;
      algs[i] = job.alg;
      inputs[i] = job.signingInput;
      if (unsent !== undefined && !this.sentKeys.has(job.keyId)) {
        this.sentKeys.add(job.keyId);
        keys.push(job.keyId, job.key);
      }
    }
    this.inFlight.push(jobs);
    worker.postMessage({ reset, keys, keyIds, algs, inputs: inputs.join("\n") });
  }

  private startWorker(): Worker {
    const specs = Object.fromEntries(Object.entries(ALGORITHM_SPECS).map(([alg, spec]) => [alg, { digest: spec.digest, options: spec.options }]));
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { specs } });
    // Signing never keeps the process alive on its own.
    worker.unref();
    worker.on("message", (batch: BatchAnswer) => {
      const jobs = this.inFlight.shift() ?? [];
      const answers = typeof batch === "string" ? batch.split("\n") : batch;
      for (let i = 0; i < jobs.length; i++) {
        const answer = answers[i];
        const job = jobs[i]!;
        if (typeof answer === "string") job.resolve(`${job.signingInput}.${answer}`);
        else job.reject(new Error(`signing failed: ${answer?.error ?? "no answer"}`));
      }
    });
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      // The next job starts a new worker, which holds no keys yet.
      this.worker = undefined;
      this.sentKeys.clear();
      this.options.onWorkerError?.(error);
      this.failAll(error);
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`the signing worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const jobs of this.inFlight.splice(0)) for (const job of jobs) job.reject(error);
    for (const job of this.queued) job.reject(error);
    this.queued = [];
  }
}

/** The callback form of crypto.sign runs on libuv's thread pool, so every core signs. */
function signOnThreadPool(spec: AlgorithmSpec, signingInput: string, key: KeyObject): Promise<string> {
  return new Promise((resolve, reject) => {
    cryptoSign(spec.digest, Buffer.from(signingInput, "latin1"), spec.keyOptions(key), (error, signature) => {
      if (error) reject(error);
      else resolve(`${signingInput}.${signature.toString("base64url")}`);
    });
  });
}
