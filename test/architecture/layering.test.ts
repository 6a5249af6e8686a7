/**
 * The direction of dependencies (../shared/STYLE.md): transports call the domain, the domain
 * defines the interfaces the store implements, and nothing in the domain imports a transport,
 * Prisma, the store or generated protobuf code. Configuration points one way: src/config fills
 * in the settings types the rooms it configures define, and only the composition root, the
 * server entry and the CLI read it. Read from the source, so it cannot drift.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "gen" || name === "generated" ? [] : sourceFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((match) => match[1]!);
}

const DOMAIN = ["oauth", "clients", "keys", "sync", "audit", "federation"];
const FORBIDDEN_IN_DOMAIN = [/^@connectrpc\//, /^node:http2?$/, /^@prisma\//, /^pg$/, /^@electric-sql\//, /\/store\//, /\/transport\//, /\/gen\//, /^prom-client$/];

/** Imports that load code at run time: `import type` is checked by the compiler, not here. */
function runtimeImportsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/gms)].map((match) => match[1]!);
}

/** Relative imports resolved to source files, type-only imports included: a loop of types is still a loop. */
function localImportsOf(file: string): string[] {
  return importsOf(file)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")));
}

/** Each import loop once, as the chain of files that closes it. */
function importLoops(files: readonly string[]): string[] {
  const graph = new Map(files.map((file) => [file, localImportsOf(file)]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const loops: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "visiting");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "visiting") loops.push([...stack.slice(stack.indexOf(next)), next].map((f) => path.relative(SRC, f)).join(" → "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return loops;
}

describe("layering", () => {
  const files = sourceFiles(SRC);

  it("finds the source files it checks", () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it.each(DOMAIN)("src/%s imports no transport, storage engine, store or generated code", (room) => {
    const offenders = files
      .filter((file) => path.relative(SRC, file).startsWith(`${room}/`))
      .flatMap((file) => importsOf(file).filter((spec) => FORBIDDEN_IN_DOMAIN.some((pattern) => pattern.test(spec))).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it("keeps src/config from loading a transport, storage engine, store or generated code (it names their settings' types only)", () => {
    const offenders = files
      .filter((file) => path.relative(SRC, file).startsWith("config/"))
      .flatMap((file) => [
        ...runtimeImportsOf(file).filter((spec) => FORBIDDEN_IN_DOMAIN.some((pattern) => pattern.test(spec))),
        ...importsOf(file).filter((spec) => /^@prisma\/|^pg$|^@electric-sql\/|\/gen\/|generated\//.test(spec)),
      ].map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it("lets only the composition root, the server entry and the CLI read configuration", () => {
    const allowed = (file: string) => /^(config\/|app\.ts$|app\/|admin-bootstrap\.ts$|server\.ts$|cli\/)/.test(path.relative(SRC, file));
    const offenders = files
      .filter((file) => !allowed(file))
      .flatMap((file) => importsOf(file).filter((spec) => spec.startsWith(".") && /(^|\/)config\//.test(spec)).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it("keeps Prisma inside src/store", () => {
    const offenders = files
      .filter((file) => !path.relative(SRC, file).startsWith("store/"))
      .flatMap((file) => importsOf(file).filter((spec) => /^@prisma\/|generated\/|pglite/.test(spec)).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it("keeps generated protobuf code inside the Connect transport (and the composition root)", () => {
    const allowed = (file: string) => /^(transport\/connect\/|app\/|verifier\/|client\/|cli\/)/.test(path.relative(SRC, file));
    const offenders = files
      .filter((file) => !allowed(file))
      .flatMap((file) => importsOf(file).filter((spec) => /\/gen\//.test(spec)).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it("keeps the published verifier from importing the server: only itself, the generated contract, the access-token profile, the DPoP proof checks and tessera/client", () => {
    const allowed = /^(verifier\/|client\/|gen\/|keys\/access-token-profile\.ts$|keys\/dpop-proof\.ts$)/;
    const offenders = files
      .filter((file) => path.relative(SRC, file).startsWith("verifier/"))
      .flatMap((file) => localImportsOf(file).filter((target) => !allowed.test(path.relative(SRC, target))).map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`));
    expect(offenders).toEqual([]);
  });

  it("keeps the published client from importing the server: only itself and the generated contract", () => {
    const offenders = files
      .filter((file) => path.relative(SRC, file).startsWith("client/"))
      .flatMap((file) => localImportsOf(file).filter((target) => !/^(client\/|gen\/)/.test(path.relative(SRC, target))).map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`));
    expect(offenders).toEqual([]);
  });

  it("keeps the access-token profile free of imports, so the published verifier loads none of the server through it", () => {
    expect(importsOf(path.join(SRC, "keys/access-token-profile.ts"))).toEqual([]);
  });

  it("keeps the DPoP proof checks free of Tessera's modules (node:crypto only), so the published verifier loads none of the server through them", () => {
    expect(importsOf(path.join(SRC, "keys/dpop-proof.ts"))).toEqual(["node:crypto"]);
  });

  it("has no import loops between source files, so each module can be read before the ones that use it", () => {
    expect(importLoops(files)).toEqual([]);
  });

  it("keeps connect-es internals (its protocol helpers, no semver promise) behind the lean gRPC path's one fence", () => {
    const fence = "transport/connect/lean-grpc/connect-es-internals.ts";
    const offenders = files
      .filter((file) => path.relative(SRC, file) !== fence)
      .flatMap((file) => runtimeImportsOf(file).filter((spec) => /^@connectrpc\/connect\/protocol/.test(spec)).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });

  it.each([
    ["transport/connect/", /\/http\//],
    ["transport/http/", /\/connect\//],
  ])("keeps %s from knowing the other side of the one-port router", (room, other) => {
    const offenders = files
      .filter((file) => path.relative(SRC, file).startsWith(room))
      .flatMap((file) => importsOf(file).filter((spec) => spec.startsWith(".") && other.test(spec)).map((spec) => `${path.relative(SRC, file)} → ${spec}`));
    expect(offenders).toEqual([]);
  });
});
