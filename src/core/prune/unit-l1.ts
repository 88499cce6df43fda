import type { PruneStrategy } from './strategy';
import { unitNormPlan } from './unit-norm';

export const unitL1Strategy: PruneStrategy = {
  id: 'unit-l1',
  label: 'Unit L1 norm',
  kind: 'structured',
  description: 'removes the neurons whose incoming weights have the smallest L1 norm',
  needsSamples: false,
  plan: (mlp, options) => unitNormPlan('unit-l1', 1, mlp, options),
};
