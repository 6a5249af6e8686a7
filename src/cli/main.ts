/**
 * Process entry of the `tessera` command (bin/tessera.cjs loads it through tsx): the only CLI
 * module that touches process.argv, process.env and process.exit.
 */
import { runCli } from "./cli.js";
import { SERVING } from "./command.js";

// A reader that goes away early (`tessera clients list | head -1`) is not an error.
const onStdoutError = (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
};
process.stdout.on("error", onStdoutError);

const outcome = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  io: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  },
});

if (outcome === SERVING) {
  // The server's own output rules apply from here on.
  process.stdout.off("error", onStdoutError);
} else {
  process.exitCode = outcome;
  // Exit at once rather than wait for idle keep-alive connections to close, but only after
  // what was written has reached the pipes.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
  process.exit(outcome);
}
