/** A labelled dataset held in memory: rows of features and integer class labels. */
export interface Dataset {
  /** Where it came from, for messages and results ("mnist:test", a file path, ...). */
  source: string;
  /** Row-major [n, features]. */
  x: Float32Array;
  /** Class index per row, or null for unlabelled data. */
  y: Int32Array | null;
  n: number;
  /** Shape of one sample as stored (e.g. [28, 28]); its product is `features`. */
  sampleShape: number[];
  features: number;
  /** Number of classes (max label + 1), 0 when unlabelled. */
  classes: number;
}

export type SplitName = 'train' | 'validation' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'validation', 'test'];

export type Normalization = 'unit' | 'zscore' | 'none';
export const NORMALIZATIONS: readonly Normalization[] = ['unit', 'zscore', 'none'];

export interface DatasetSplits {
  /** "mnist" or the path given. */
  name: string;
  train?: Dataset;
  validation?: Dataset;
  test?: Dataset;
  normalization: Normalization;
}

export function makeDataset(source: string, x: Float32Array, y: Int32Array | null, sampleShape: number[]): Dataset {
  const features = sampleShape.reduce((a, b) => a * b, 1);
  const n = features === 0 ? 0 : x.length / features;
  let classes = 0;
  if (y) for (const label of y) if (label + 1 > classes) classes = label + 1;
  return { source, x, y, n, sampleShape, features, classes };
}

/** Rows [start, end) as a new dataset sharing no memory with the original. */
export function sliceRows(ds: Dataset, start: number, end: number, source = ds.source): Dataset {
  const f = ds.features;
  return {
    ...ds,
    source,
    x: ds.x.slice(start * f, end * f),
    y: ds.y ? ds.y.slice(start, end) : null,
    n: end - start,
  };
}
