/**
 * The worker thread that reads Keras HDF5 files (h5-run.ts starts it). HDF5 can loop forever on
 * a damaged file; here that only stalls this thread, which the reader terminates after its time
 * limit. Protocol: posts {ready} once loaded; for each Uint8Array it receives, posts {nodes} (the
 * snapshot, its arrays transferred) or {error, fatal}; after a fatal error (a trap in the
 * WebAssembly code, whose memory may be corrupt) it exits.
 */
import { parentPort } from 'node:worker_threads';
import { H5Error, snapshotHdf5, type H5Snapshot } from './h5';
import { KERAS_SNAPSHOT } from './weights';

function transfers(nodes: H5Snapshot): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const node of Object.values(nodes)) {
    if (node.values && node.values.buffer instanceof ArrayBuffer && !out.includes(node.values.buffer)) out.push(node.values.buffer);
  }
  return out;
}

async function handle(bytes: Uint8Array): Promise<void> {
  try {
    const nodes = await snapshotHdf5(bytes, KERAS_SNAPSHOT);
    parentPort!.postMessage({ nodes }, transfers(nodes));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const fatal = !(e instanceof H5Error) || message.startsWith('the HDF5 library failed');
    parentPort!.postMessage({ error: message, fatal });
    if (fatal) process.exit(1);
  }
}

if (parentPort) {
  parentPort.on('message', (bytes: Uint8Array) => {
    void handle(bytes);
  });
  parentPort.postMessage({ ready: true });
}
