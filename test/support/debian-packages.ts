/**
 * Debian packages a polyglot test runs with (Debian's own interpreter and libraries), installed
 * when missing and the tests run as root; a test fails (never skips) when they cannot be had.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

function missingPackages(packages: readonly string[]): string[] {
  return packages.filter((name) => {
    const status = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
    return status.status !== 0 || !status.stdout.includes("install ok installed");
  });
}

/** Installs the packages when missing; throws, naming them, when it cannot. */
export async function ensureDebianPackages(packages: readonly string[], neededBy: string): Promise<void> {
  const missing = missingPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${neededBy} needs the Debian packages ${missing.join(" ")}; install them with: sudo apt-get install -y --no-install-recommends ${missing.join(" ")}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    // The lock timeout waits for another apt run instead of failing at once.
    await run("apt-get", ["-o", "DPkg::Lock::Timeout=120", "update"], { env, timeout: 300_000 });
    await run("apt-get", ["-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", ...missing], { env, timeout: 300_000 });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`could not install ${missing.join(" ")} with apt-get: ${stderr?.trim() || String(error)}`);
  }
  const stillMissing = missingPackages(packages);
  if (stillMissing.length > 0) throw new Error(`apt-get finished but ${stillMissing.join(" ")} is still not installed`);
}
