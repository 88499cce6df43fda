// Child process for wasm-threads.test.ts: enables wasm threads, then trains a small MLP and
// prints the thread count and the trained weights' bytes as hex.
import { createHash } from 'node:crypto';
import { initBackend } from '../../src/core/backend';
import { initWasmThreads } from '../../src/core/wasm-threads';
import { trainingCase } from './threads-case';

async function main(): Promise<void> {
  const threads = await initWasmThreads(Number(process.argv[2]));
  const backend = await initBackend();
  const mlp = await trainingCase();
  const hash = createHash('sha256');
  for (const l of mlp.layers) hash.update(Buffer.from(l.weights.buffer)).update(Buffer.from(l.bias!.buffer));
  console.log(JSON.stringify({ ...threads, backend: backend.name, weights: hash.digest('hex') }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
