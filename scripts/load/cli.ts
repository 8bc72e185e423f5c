/** Command-line options of the load tools: parsed strictly, every problem named, bounds enforced. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fail } from '../script-support.js';

/** Parses `args` against `options`; an unknown option or a missing value ends the script with `usage`. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    fail(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
  }
}

/** A number option within [min, max], or its default when absent; anything else ends the script. */
export function numberOption(name: string, value: string | undefined, bounds: { default: number; min: number; max: number }): number {
  if (value === undefined) return bounds.default;
  const n = Number(value);
  if (!Number.isFinite(n) || n < bounds.min || n > bounds.max)
    fail(`--${name} must be a number from ${bounds.min} to ${bounds.max}, not "${value}"`);
  return n;
}
