/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, e.g. from `npm run bench -- --cpu-prof`): the
 * functions with the most self time, and self time by origin (a package, a file of ours, Node's
 * internals, the garbage collector, idle).
 *
 *   node --import tsx bench/profile-summary.ts bench/profiles/<file>.cpuprofile [--top 25] [--skip-seconds 0] [--until-seconds ∞]
 *
 * --skip-seconds and --until-seconds keep one window of the profile (leave out start-up, or
 * look at one scenario of several).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "25" }, "skip-seconds": { type: "string", default: "0" }, "until-seconds": { type: "string", default: "Infinity" } } });
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: profile-summary.ts <file.cpuprofile> [--top 25] [--skip-seconds 0] [--until-seconds ∞]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

const skipMicros = Number(values["skip-seconds"]) * 1e6;
const untilMicros = Number(values["until-seconds"]) * 1e6;
const selfMicros = new Map<number, number>();
let elapsed = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  elapsed += delta;
  if (elapsed >= skipMicros && elapsed < untilMicros) selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
});
const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);

function origin(url: string, name: string): string {
  if (name === "(garbage collector)" || name === "(idle)" || name === "(program)" || name === "(root)") return name;
  if (!url) return "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return "node internals";
  const ours = /\/(src|bench|test)\/(.+)$/.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
}

const functions = new Map<string, number>();
const origins = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const { callFrame } = byId.get(id)!;
  const where = origin(callFrame.url, callFrame.functionName);
  const key = `${callFrame.functionName || "(anonymous)"}  ${where}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ""}`;
  functions.set(key, (functions.get(key) ?? 0) + micros);
  origins.set(where, (origins.get(where) ?? 0) + micros);
}

const top = Number(values.top);
const percent = (micros: number) => `${((100 * micros) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${percent(micros)}  ${key}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n`);
print("self time by origin", origins);
print("self time by function", functions);
