import type { Activation, MLP, ModelFormatId } from '../model/mlp';

export interface ReadOptions {
  /** Activation for formats that do not store one (safetensors state dicts). Default relu. */
  activation?: Activation;
  /** Activation of the last layer for such formats. Default linear (logits). */
  outputActivation?: Activation;
}

export interface WriteResult {
  /** Every file written, main file first. */
  files: string[];
  /** Total bytes written. */
  bytes: number;
}

/**
 * One model format: how to recognise it, read it into an MLP and (optionally) write an MLP.
 * Readers never throw anything but ModelFormatError for bad input.
 */
export interface WriteOptions {
  /** Store every weight, zeros included, where the format could store mostly-zero kernels sparsely (for consumers without sparse support). */
  dense?: boolean;
}

export interface ModelFormat {
  id: ModelFormatId;
  /** Human name used in messages, e.g. "ONNX". */
  label: string;
  /** True when this reader should handle the file; `head` is the first bytes of the file. */
  detect(path: string, head: Uint8Array): boolean;
  /**
   * Reads the model. The MLP's `source.files` is every file it was read from, main file first
   * (weight shards, external data): the one list of what the model is made of (registry.readModel
   * fills in the main file alone for a reader that does not say).
   */
  read(path: string, options?: ReadOptions): Promise<MLP>;
  /** File extension(s) that select this format as a writer, e.g. [".onnx"]. */
  writeExtensions: string[];
  /** Writes `mlp` to `path` and its companion files (weights), atomically. Never overwrites the source model. */
  write?(mlp: MLP, path: string, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Every file `write(mlp, path)` creates, main file first (a tfjs model.json has its weights file
   * beside it). Default: `path` alone. model-files.ts `outputFiles` tells the same without loading
   * the format (for the extension host); its test holds the two together.
   */
  outputFiles?(path: string): string[];
  /** True when the writer stores mostly-zero kernels sparsely, so unstructured pruning shrinks the file. */
  writesSparse?: boolean;
}
