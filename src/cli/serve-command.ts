/**
 * `tessera serve`: the server itself, started exactly as `npm start` starts it — by loading the
 * server process, src/server.ts, which reads the environment, listens, and stops on SIGTERM/SIGINT.
 */
import { SERVING, type Command } from "./command.js";

const serve: Command = {
  path: ["serve"],
  summary: "Run the Tessera server (configured by environment variables, see README).",
  description: "Same as `npm start`: PORT, DATABASE_URL, TESSERA_ADMIN_CLIENT_ID/SECRET and the other TESSERA_* variables configure it. A bad setting exits 2; a failed start exits 1.",
  connects: false,
  options: {},
  async run() {
    await import("../server.js");
    return SERVING;
  },
};

export const SERVE_COMMANDS: readonly Command[] = [serve];
