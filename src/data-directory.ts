/**
 * The data directory of the embedded database: it holds the database files (secret hashes,
 * sealed signing keys, audit trail) and the generated key-encryption key, so only the user
 * Tessera runs as may enter it. PGlite creates its own directories 0755 and its files 0666
 * whatever the umask, so the data directory's mode is the one barrier that keeps other users
 * out of them.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

export class DataDirectoryError extends Error {
  override readonly name = "DataDirectoryError";
}

const GROUP_OR_OTHER = 0o077;

/** Modes only mean this on POSIX; Windows reports them without enforcing them. */
const POSIX = process.platform !== "win32";

function modeOf(target: string): number {
  return statSync(target).mode & 0o777;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

/**
 * Creates the data directory (and missing parents) with mode 0700, or checks that an existing
 * one is closed to group and others. An existing open directory is refused rather than
 * tightened: someone made it so, files in it may already have been read, and they should know
 * (and perhaps rotate secrets) before Tessera carries on.
 */
export function ensurePrivateDataDirectory(dataDir: string): void {
  const created = mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (created !== undefined || !POSIX) return;
  const mode = modeOf(dataDir);
  if ((mode & GROUP_OR_OTHER) !== 0) {
    throw new DataDirectoryError(
      `the data directory ${dataDir} is open to other users (mode ${octal(mode)}), and it holds the embedded database and the key-encryption key: ` +
        `run \`chmod 700 ${dataDir}\` (and consider rotating client secrets and the KEK if others could have read it), or set TESSERA_DATA_DIR to a private directory`,
    );
  }
}

/**
 * A directory inside the data directory that Tessera's own tools create (PGlite's, 0755 by its
 * default): tightened to 0700, since it was ours all along and refusing it would stop every
 * existing installation for no exposure.
 */
export function tightenOwnDirectory(directory: string): void {
  if (POSIX && (modeOf(directory) & GROUP_OR_OTHER) !== 0) chmodSync(directory, 0o700);
}

/** A secret file in the data directory (the generated KEK, written 0600): refused when others may read it. */
export function checkPrivateFile(file: string): void {
  if (!POSIX) return;
  const mode = modeOf(file);
  if ((mode & GROUP_OR_OTHER) !== 0) {
    throw new DataDirectoryError(`${file} is open to other users (mode ${octal(mode)}): run \`chmod 600 ${file}\` (and rotate the KEK if others could have read it)`);
  }
}

const LOCK_FILE_NAME = "tessera.lock";

/** Tells this process's locks from those of an earlier process that had the same pid (a container's pid 1). */
const PROCESS_TOKEN = randomBytes(8).toString("hex");

export class DataDirectoryInUseError extends DataDirectoryError {}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Claims the data directory for this process until the returned function is called. PGlite
 * takes no lock of its own — a second process opening the same directory succeeds and the two
 * corrupt each other's writes — so a lock file records the owner's pid; one left by a process
 * that is gone (a crash, a container restart) is taken over.
 */
export function lockDataDirectory(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE_NAME);
  const content = `${process.pid} ${PROCESS_TOKEN}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, content, { flag: "wx", mode: 0o600 });
      return () => {
        try {
          if (readFileSync(file, "utf8") === content) unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = "";
    try {
      holder = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const [pidText, token] = holder.trim().split(" ");
    const pid = Number(pidText);
    const held = Number.isInteger(pid) && pid > 0 && (pid === process.pid ? token === PROCESS_TOKEN : isAlive(pid));
    if (held) {
      throw new DataDirectoryInUseError(
        `the data directory ${dataDir} is in use by process ${pid} (a running Tessera?): the embedded database can be opened by one process at a time. ` +
          `Stop that process first; if it is not Tessera, remove ${file}`,
      );
    }
    rmSync(file, { force: true });
  }
  throw new DataDirectoryInUseError(`could not lock the data directory ${dataDir}: ${file} keeps reappearing`);
}
