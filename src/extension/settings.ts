import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { activationSchema, backendPreferenceSchema, enginePreferenceSchema, nmPatternSchema, removedUnitsSchema } from '../shared/jobs';
import { PRUNE_FORMATS } from './naming';

/** "" (no pattern) or N:M; the schema that crosses to the worker (nmPatternSchema) says what N:M may be. */
const patternSetting = z
  .string()
  .transform((s) => s.replace(/\s+/g, ''))
  .pipe(z.union([z.literal(''), nmPatternSchema]));

/** The prunescope.* settings (package.json "configuration" declares the same names and defaults). */
const settingsShape = {
  backend: backendPreferenceSchema.default('auto'),
  engine: enginePreferenceSchema.default('auto'),
  samples: z.number().int().positive().default(1000),
  strategies: z.array(z.string().min(1)).min(1).default(['magnitude', 'unit-l2', 'apoz', 'random']),
  sparsities: z.array(z.number().min(0).max(1)).min(1).default([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
  finetuneEpochs: z.number().int().nonnegative().default(0),
  iterations: z.number().int().positive().default(1),
  dataset: z.string().min(1).default('mnist'),
  normalization: z.enum(['auto', 'unit', 'zscore', 'none']).default('auto'),
  pruneStrategy: z.string().min(1).default('auto'),
  pruneSparsity: z.number().min(0).max(1).default(0.5),
  pruneFormat: z.enum(PRUNE_FORMATS).default('same'),
  compensate: z.boolean().default(true),
  calibrationRows: z.number().int().min(2).default(2048),
  removedUnits: removedUnitsSchema.default('constant'),
  pattern: patternSetting.default(''),
  /** Activations of formats that store none (safetensors, PyTorch state dicts). */
  stateDictActivation: activationSchema.default('relu'),
  stateDictOutputActivation: activationSchema.default('linear'),
};

type Shape = typeof settingsShape;
export type Settings = { [K in keyof Shape]: z.output<Shape[K]> };
export const SETTING_KEYS = Object.keys(settingsShape) as (keyof Settings)[];

/**
 * Reads every setting through `get` (vscode's configuration.get in the extension). A value that
 * does not fit falls back to the default and is named in `problems`, so one bad setting does
 * not stop every command.
 */
export function readSettings(get: (key: string) => unknown): { settings: Settings; problems: string[] } {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const schema = settingsShape[key] as z.ZodType;
    const raw = get(key);
    const r = schema.safeParse(raw);
    if (r.success) out[key] = r.data;
    else {
      problems.push(`prunescope.${key}: ${r.error.issues[0].message}; using the default`);
      out[key] = schema.parse(undefined);
    }
  }
  const settings = out as Settings;
  settings.sparsities = [...new Set(settings.sparsities)].sort((a, b) => a - b);
  return { settings, problems };
}

/** The activations a state dict is read with (other formats store their own and ignore these). */
export function readParams(s: Settings): {
  activation: Settings['stateDictActivation'];
  outputActivation: Settings['stateDictOutputActivation'];
} {
  return { activation: s.stateDictActivation, outputActivation: s.stateDictOutputActivation };
}

/** "mnist" stays; a relative path is taken from the workspace folder (`base`). */
export function resolveDatasetSpec(spec: string, base: string | undefined): string {
  if (spec.trim().toLowerCase() === 'mnist') return 'mnist';
  if (isAbsolute(spec) || !base) return spec;
  return resolve(base, spec);
}

export function normalizationParam(n: Settings['normalization']): 'unit' | 'zscore' | 'none' | undefined {
  return n === 'auto' ? undefined : n;
}

/** The pruning fields of the analyze and prune jobs (JobParams' pruningFields), from the settings. */
export function pruningParams(s: Settings): {
  compensate: boolean;
  calibration: number;
  removedUnits: Settings['removedUnits'];
  pattern?: string;
} {
  return {
    compensate: s.compensate,
    calibration: s.calibrationRows,
    removedUnits: s.removedUnits,
    ...(s.pattern ? { pattern: s.pattern } : {}),
  };
}

/**
 * Settings a command call may override for one run, for automation and tests:
 * `executeCommand('prunescope.analyze', uri, { strategies: ['magnitude'], sparsities: [0.5], samples: 200 })`.
 * Given any override (or `{ useDefaults: true }`, see prune-flow.ts), Run Pruning Analysis and
 * Prune Model ask no question. The object is any argument that is a plain object; other keys are
 * ignored (editor title menus pass their own context object).
 */
const overridesSchema = z.object({
  strategies: z.array(z.string().min(1)).min(1).optional(),
  sparsities: z.array(z.number().min(0).max(1)).min(1).optional(),
  samples: z.number().int().positive().optional(),
  finetuneEpochs: z.number().int().nonnegative().optional(),
  iterations: z.number().int().positive().optional(),
  pruneStrategy: z.string().min(1).optional(),
  pruneSparsity: z.number().min(0).max(0.99).optional(),
  pruneFormat: z.enum(PRUNE_FORMATS).optional(),
  compensate: z.boolean().optional(),
  calibrationRows: z.number().int().min(2).optional(),
  removedUnits: removedUnitsSchema.optional(),
  pattern: patternSetting.optional(),
});
export type SettingOverrides = z.output<typeof overridesSchema>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** The overrides among a command's arguments; throws with the field at fault when one does not fit. */
export function overridesFromArgs(args: readonly unknown[]): SettingOverrides {
  const raw = args.find((a) => isPlainObject(a) && !('scheme' in a && 'fsPath' in a));
  if (raw === undefined) return {};
  const r = overridesSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`the command's options are not valid: ${issue.path.join('.') || 'options'}: ${issue.message}`);
  }
  return r.data;
}

/** Settings with one run's overrides applied (sparsities sorted and unique, as readSettings does). */
export function withOverrides(settings: Settings, o: SettingOverrides): Settings {
  const merged: Settings = { ...settings };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  merged.sparsities = [...new Set(merged.sparsities)].sort((a, b) => a - b);
  return merged;
}
