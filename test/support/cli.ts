/**
 * Runs the `tessera` CLI as users run it (bin/tessera.cjs in a child process) with only the
 * environment given, plus PATH and HOME: nothing from the test runner's own environment leaks in.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { ADMIN_CLIENT } from "./test-server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type CliEnv = Record<string, string>;

/** The environment of an admin using the CLI against `server`. */
export function adminCliEnv(server: { readonly url: string }): CliEnv {
  return { TESSERA_URL: server.url, TESSERA_ADMIN_CLIENT_ID: ADMIN_CLIENT.clientId, TESSERA_ADMIN_CLIENT_SECRET: ADMIN_CLIENT.clientSecret };
}

export function runCli(env: CliEnv, ...args: string[]): Promise<CliRun> {
  return runCliWithInput(env, undefined, ...args);
}

/** As runCli, with `stdin` written to the process's standard input (for `-f -`). */
export function runCliWithInput(env: CliEnv, stdin: string | undefined, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/tessera.cjs", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** Runs with --json, expects success, and returns the parsed output. */
export async function runCliJson<T>(env: CliEnv, ...args: string[]): Promise<T> {
  const run = await runCli(env, ...args, "--json");
  expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}
