export { runAnalysis, type AnalysisOptions, type DataOptions, type JobHooks, DEFAULT_SAMPLES } from './analysis';
export { runComparison, type ComparisonOptions } from './compare';
export { pruneModel, type PruneModelOptions, type PruneModelResult } from './prune-model';
