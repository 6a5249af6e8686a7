/**
 * The data directory of the embedded database: it holds the database files (secret hashes,
 * sealed signing keys, audit trail) and the generated key-encryption key, so only the user
 * Tessera runs as may enter it. PGlite creates its own directories 0755 and its files 0666
 * whatever the umask, so the data directory's mode is the one barrier that keeps other users
 * out of them.
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";

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
