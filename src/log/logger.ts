/**
 * Structured JSON logging with pino. Secrets, tokens and assertions are redacted by path so a
 * careless log call cannot leak them; request-scoped loggers carry the request id.
 */
import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/config.js";

export type { Logger };

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

export function createLogger(options: { level: LogLevel; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "tessera" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
