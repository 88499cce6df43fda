import type { MLP } from '../model/mlp';
import type { CkaVariant } from './cka-fast';
import { ckaGreedyStrategy, ckaStrategy } from './registry';
import type { PruneOptions, StructuredPlan } from './strategy';

/** A whole-model CKA plan by variant name, as the strategies make it (the CKA benchmark times these). */
export function ckaPlan(variant: CkaVariant, mlp: MLP, options: PruneOptions): StructuredPlan {
  return (variant === 'cka' ? ckaStrategy : ckaGreedyStrategy).plan(mlp, options) as StructuredPlan;
}
