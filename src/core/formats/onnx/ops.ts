/**
 * Which ONNX operators the MLP reader understands, and friendly names for the common ones it
 * refuses, so a refusal says "Conv (a convolution)" rather than only the operator type.
 */

/** Operators that may sit on the network's data path (default domain). */
export const NETWORK_OPS = new Set([
  'Gemm',
  'MatMul',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Softmax',
  'LogSoftmax',
  'Clip',
  'Flatten',
  'Reshape',
  'Identity',
  'Dropout',
  'BatchNormalization',
  'Transpose',
  'Cast',
]);

/** Operators evaluated on stored constants only (weights, shapes). */
export const CONSTANT_OPS = new Set(['Constant', 'Identity', 'Transpose', 'Cast']);

/** ai.onnx.ml operators the reader folds into the network (input scaling). */
export const ML_NETWORK_OPS = new Set(['Scaler']);

/**
 * Classifier post-processing that converters (skl2onnx, onnxmltools) put after the network's
 * probabilities. The reader leaves these out and says so in the notes.
 */
export const POST_OPS = new Set([
  'ArgMax',
  'ArgMin',
  'TopK',
  'Cast',
  'Reshape',
  'Identity',
  'Concat',
  'Sub',
  'Squeeze',
  'Unsqueeze',
  'Flatten',
  'Shape',
  'ZipMap',
  'ArrayFeatureExtractor',
  'LabelEncoder',
]);

/** Post-processing that only makes sense after a classifier's output; one of them must be present. */
export const POST_MARKERS = new Set(['ArgMax', 'ArgMin', 'TopK', 'ZipMap', 'ArrayFeatureExtractor', 'LabelEncoder']);

export const ML_DOMAIN = 'ai.onnx.ml';

export function isDefaultDomain(domain: string | null | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/** True when the operator may appear anywhere in a graph this reader accepts. */
export function isKnownOp(domain: string | null | undefined, op: string): boolean {
  if (isDefaultDomain(domain)) return NETWORK_OPS.has(op) || CONSTANT_OPS.has(op) || POST_OPS.has(op);
  if (domain === ML_DOMAIN) return ML_NETWORK_OPS.has(op) || POST_OPS.has(op);
  return false;
}

const WHAT: Record<string, string> = {
  Conv: 'a convolution',
  ConvTranspose: 'a transposed convolution',
  ConvInteger: 'a quantized convolution',
  QLinearConv: 'a quantized convolution',
  MaxPool: 'pooling',
  AveragePool: 'pooling',
  GlobalAveragePool: 'pooling',
  GlobalMaxPool: 'pooling',
  LpPool: 'pooling',
  MaxUnpool: 'unpooling',
  GRU: 'a recurrent layer',
  LSTM: 'a recurrent layer',
  RNN: 'a recurrent layer',
  Gather: 'an embedding lookup or indexing',
  GatherElements: 'indexing',
  GatherND: 'indexing',
  Loop: 'control flow',
  If: 'control flow',
  Scan: 'control flow',
  Attention: 'attention',
  MultiHeadAttention: 'attention',
  LayerNormalization: 'layer normalization',
  InstanceNormalization: 'instance normalization',
  GroupNormalization: 'group normalization',
  LRN: 'local response normalization',
  Resize: 'resizing',
  Upsample: 'upsampling',
  Pad: 'padding',
  Slice: 'slicing',
  Split: 'a split into several branches',
  QuantizeLinear: 'quantization',
  DequantizeLinear: 'quantization',
  MatMulInteger: 'a quantized matrix product',
  QLinearMatMul: 'a quantized matrix product',
  Elu: 'an activation PruneScope does not model',
  Selu: 'an activation PruneScope does not model',
  Gelu: 'an activation PruneScope does not model',
  HardSigmoid: 'an activation PruneScope does not model',
  HardSwish: 'an activation PruneScope does not model',
  Softplus: 'an activation PruneScope does not model',
  Softsign: 'an activation PruneScope does not model',
  PRelu: 'an activation with learned slopes, which PruneScope does not model',
  ThresholdedRelu: 'an activation PruneScope does not model',
  Mish: 'an activation PruneScope does not model',
};

/** "Conv (a convolution)" or "com.microsoft FusedGemm". */
export function describeOp(domain: string | null | undefined, op: string): string {
  const name = isDefaultDomain(domain) ? op : `${domain}.${op}`;
  const what = isDefaultDomain(domain) ? WHAT[op] : undefined;
  return what ? `${name} (${what})` : name;
}
