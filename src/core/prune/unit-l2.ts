import type { PruneStrategy } from './strategy';
import { unitNormPlan } from './unit-norm';

export const unitL2Strategy: PruneStrategy = {
  id: 'unit-l2',
  label: 'Unit L2 norm',
  kind: 'structured',
  description: 'removes the neurons whose incoming weights have the smallest L2 norm',
  needsSamples: false,
  plan: (mlp, options) => unitNormPlan('unit-l2', 2, mlp, options),
};
