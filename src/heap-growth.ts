/**
 * How far V8 lets the old generation grow before the next full collection.
 *
 * Node promotes nearly everything that survives one young-generation collection under
 * HTTP/2 load (with the compatibility API or the stream API alike), so dead per-call objects
 * pile up in the old generation until the next mark-compact. V8's own growing factor lets that
 * reach several times the live size. Starting the full collection at 1.6× the live size keeps
 * resident memory well below that for a little more CPU per introspection; a lower factor saves
 * little more memory and costs introspection much more CPU (docs/performance.md).
 */
import { setFlagsFromString } from "node:v8";

const FLAG = "--heap-growing-percent";
export const HEAP_GROWING_PERCENT = 60;

/**
 * Sets the growth limit unless node was started with its own (`node --heap-growing-percent=N`;
 * 0 is V8's default behaviour). V8 reads it whenever a full collection sets the next limit, so
 * calling this at start-up is soon enough.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (execArgv.some((argument) => argument === FLAG || argument.startsWith(`${FLAG}=`))) return;
  setFlags(`${FLAG}=${HEAP_GROWING_PERCENT}`);
}
