import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors';
import { imageShapeOf } from '../core/metrics/locality';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  backend: { type: 'string' },
  engine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** parseArgs with its errors turned into usage errors (exit code 2). */
export function parse<T extends Options>(argv: string[], options: T, positionals: { min: number; max: number; names: string }) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = parsed.positionals.length;
  if (!(parsed.values as { help?: boolean }).help && (n < positionals.min || n > positionals.max)) {
    throw new UsageError(
      n < positionals.min ? `missing ${positionals.names}` : `unexpected argument "${parsed.positionals[positionals.max]}"`,
    );
  }
  return parsed;
}

export function requireString(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

export function intOption(value: string | boolean | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${flag} must be a whole number of at least ${min}, got "${value}"`);
  }
  return n;
}

export function numberOption(value: string | boolean | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function choiceOption<T extends string>(value: string | boolean | undefined, flag: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got "${value}"`);
  }
  return value as T;
}

export function intListOption(value: string | boolean | undefined, flag: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const parts = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
  const nums = parts.map(Number);
  if (parts.length === 0 || parts.some((p) => p === '') || nums.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(`--${flag} must be a comma-separated list of whole numbers, e.g. 1000,1000,500,200; got "${value}"`);
  }
  return nums;
}

/**
 * An image shape written HxW, HxWxC (channels last) or CxHxW (channels first, told apart as the
 * engine does: the end with at most 4 values holds the channels). Whether the product matches the
 * model's inputs is checked where the model is known.
 */
export function imageShapeOption(value: string | boolean | undefined, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim() : '';
  const parts = text.split(/x/i).map((s) => s.trim());
  const dims = parts.map(Number);
  if (!((parts.length === 2 || parts.length === 3) && parts.every((p) => /^\d+$/.test(p)) && dims.every((d) => d >= 1))) {
    throw new UsageError(`--${flag} must be HxW or HxWxC in whole numbers, e.g. 28x28 or 32x32x3; got "${String(value)}"`);
  }
  if (
    !imageShapeOf(
      dims,
      dims.reduce((a, b) => a * b, 1),
    )
  ) {
    throw new UsageError(`--${flag} ${text}: not an image: height and width must be at least 2 and channels (first or last) at most 4`);
  }
  return dims;
}
