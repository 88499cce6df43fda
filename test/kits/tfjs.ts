/**
 * Test support for the tfjs format tests: loading a model.json with TensorFlow.js itself
 * (Node has no file:// handler without tfjs-node) and writing small synthetic models.
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { seededRandom } from '../../src/core/random';

/** A load-only IOHandler over a model.json and its shards, concatenated as tfjs-core's http loader does. */
export function fileIOHandler(jsonPath: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await fs.readFile(jsonPath, 'utf8'));
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        for (const p of group.paths) buffers.push(await fs.readFile(join(dirname(jsonPath), p)));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

export { seededRandom };

export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function tempDir(prefix = 'prunescope-tfjs-'): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), prefix));
}

export function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export interface SynthWeight {
  name: string;
  shape: number[];
  dtype?: string;
  /** The bytes as stored (already quantized when `quantization` is set). */
  bytes: Uint8Array;
  quantization?: Record<string, unknown>;
}

/**
 * Writes `model` (a model.json object without weightsManifest) to dir/fileName with one group
 * per entry of `groups`; each group's bytes are concatenated and split over its `paths`
 * (which may be uneven, cutting through a weight, as the converter does).
 */
export async function writeSyntheticModel(
  dir: string,
  fileName: string,
  model: Record<string, unknown>,
  groups: { paths: string[]; weights: SynthWeight[] }[],
): Promise<string> {
  const manifest = [];
  for (const g of groups) {
    const total = g.weights.reduce((a, w) => a + w.bytes.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const w of g.weights) {
      data.set(w.bytes, off);
      off += w.bytes.length;
    }
    const per = Math.ceil(total / g.paths.length);
    for (let i = 0; i < g.paths.length; i++) {
      await fs.writeFile(join(dir, g.paths[i]), data.subarray(i * per, Math.min(total, (i + 1) * per)));
    }
    manifest.push({
      paths: g.paths,
      weights: g.weights.map((w) => ({
        name: w.name,
        shape: w.shape,
        dtype: w.dtype ?? 'float32',
        ...(w.quantization ? { quantization: w.quantization } : {}),
      })),
    });
  }
  const path = join(dir, fileName);
  await fs.writeFile(path, JSON.stringify({ ...model, weightsManifest: manifest }));
  return path;
}
