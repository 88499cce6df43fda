/**
 * Validation every boundary shares: a receiver ignores a message that does not fit its schema
 * (parserOf), and a job's parameters or result that do not fit are named with the field at fault
 * (checked), so a person reads which setting or file is wrong.
 */
import type { z } from 'zod';

/** A parser that returns the value when it fits the schema, else undefined (receivers ignore what does not fit). */
export function parserOf<T>(schema: z.ZodType<T>): (value: unknown) => T | undefined {
  return (value) => {
    const r = schema.safeParse(value);
    return r.success ? r.data : undefined;
  };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A safeParse result as a Checked: the first issue, with its path, becomes the problem. */
export function checked<T>(r: { success: true; data: T } | { success: false; error: z.ZodError }, what: string): Checked<T> {
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const at = issue.path.length ? issue.path.join('.') : '(top)';
  return { ok: false, problem: `${what}: ${at}: ${issue.message}` };
}
