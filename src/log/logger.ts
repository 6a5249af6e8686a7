/**
 * Structured JSON logging with pino. Secrets, tokens and assertions are redacted by path so a
 * careless log call cannot leak them; request-scoped loggers carry the request id.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Field names that must never reach a log line, wherever they appear. */
const REDACTED_PATHS = [
  "client_secret",
  "clientSecret",
  "secret",
  "access_token",
  "accessToken",
  "refresh_token",
  "refreshToken",
  "token",
  "client_assertion",
  "assertion",
  "authorization",
  "password",
  "*.client_secret",
  "*.clientSecret",
  "*.rawClientSecret",
  "*.secret",
  "*.access_token",
  "*.accessToken",
  "*.refresh_token",
  "*.token",
  "*.client_assertion",
  "*.assertion",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
];

/** Lines held for a slow stdout past this are dropped rather than buffered without bound. */
const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;

/** The stdout stream of each logger that writes to one, for endLog. */
const stdoutStreams = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

export function createLogger(options: { level: LogLevel; destination?: NodeJS.WritableStream }): Logger {
  const stdout = options.destination ? undefined : pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_LOG_BYTES });
  // A write error on stdout (its reader gone) must not crash the server; pino already stops
  // writing after EPIPE, and every other error means the same for a log stream.
  stdout?.on("error", () => {});
  const log = pino(
    {
      level: options.level,
      base: { service: "tessera" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? stdout!,
  );
  if (stdout) stdoutStreams.set(log, stdout);
  return log;
}

/**
 * Ends the log before the process exits: the lines still buffered get at most `timeoutMs` to
 * be written, and then the stream is let go. Without this, pino writes what is left
 * synchronously on exit, and sonic-boom (4.x) retries a failed write there forever — EPIPE
 * when stdout's reader is gone, EAGAIN when it stopped reading — so the process never exits.
 * With `timeoutMs` 0 nothing more is written (a hard stop).
 */
export function endLog(log: Logger, timeoutMs: number): Promise<void> {
  const stdout = stdoutStreams.get(log);
  if (!stdout) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      // The exit hook's synchronous flush is the write that can loop; nothing is left for it.
      stdout.flushSync = () => {};
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    if (timeoutMs <= 0) return done();
    stdout.once("close", done);
    stdout.once("error", done);
    try {
      stdout.end();
    } catch {
      done();
    }
  });
}
