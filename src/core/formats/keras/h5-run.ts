/**
 * Reads a Keras HDF5 file in a worker thread with a time limit, so that a damaged file on which
 * HDF5 loops forever costs a ModelFormatError, not a hung process. One worker is kept for the
 * following reads (h5wasm takes a moment to load) and replaced after a timeout or a crash.
 *
 * The worker's script is `h5-worker.js` beside the running code (a bundle must ship it as its own
 * entry point, bundled with h5wasm), or, when running from the TypeScript sources, h5-worker.ts
 * through tsx. When neither can be started the file is read in this thread, without the limit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { H5Error, H5Reader, snapshotHdf5, type H5Snapshot } from './h5';
import { KERAS_SNAPSHOT } from './weights';

/** Time for loading h5wasm in a new worker. */
const START_MS = 30_000;
/** Time for one file: a floor, plus what reading the slowest plausible disk-less copy takes. */
const baseMs = (bytes: number) => 60_000 + bytes / 10_000;

let timeoutOverride: number | undefined;
let worker: Promise<Worker | undefined> | undefined;
/** Set once a worker could not be started: later reads do not try again. */
let noWorker = false;
let queue: Promise<unknown> = Promise.resolve();

/** Tests only: the time limit for one file, in ms (undefined: the default). */
export function setHdf5TimeoutForTests(ms: number | undefined): void {
  timeoutOverride = ms;
}

type Message = { ready: true } | { nodes: H5Snapshot } | { error: string; fatal: boolean };

function workerSource(): { script: string; evaluate: boolean } | undefined {
  const js = join(__dirname, 'h5-worker.js');
  if (existsSync(js)) return { script: js, evaluate: false };
  const ts = join(__dirname, 'h5-worker.ts');
  if (!existsSync(ts)) return undefined;
  try {
    const tsx = require.resolve('tsx/cjs');
    return { script: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(ts)});`, evaluate: true };
  } catch {
    return undefined;
  }
}

/** A started worker that said it is ready, or undefined when none can be started. */
function startWorker(): Promise<Worker | undefined> {
  const source = workerSource();
  if (!source) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const w = new Worker(source.script, { eval: source.evaluate, execArgv: [] });
    const timer = setTimeout(() => done(undefined), START_MS);
    const done = (value: Worker | undefined) => {
      clearTimeout(timer);
      w.off('message', onMessage).off('error', onFail).off('exit', onFail);
      if (!value) void w.terminate();
      else w.unref();
      resolve(value);
    };
    const onMessage = (m: Message) => done('ready' in m ? w : undefined);
    const onFail = () => done(undefined);
    w.on('message', onMessage).on('error', onFail).on('exit', onFail);
  });
}

function drop(w: Worker): void {
  worker = undefined;
  void w.terminate();
}

/** Sends one file to the worker and waits for its snapshot, at most `ms`. */
function request(w: Worker, bytes: Uint8Array, ms: number): Promise<H5Snapshot> {
  return new Promise((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      w.off('message', onMessage).off('error', onError).off('exit', onExit);
      w.unref();
    };
    const timer = setTimeout(() => {
      finish();
      drop(w);
      reject(new H5Error(`HDF5 did not finish reading it within ${Math.round(ms / 1000)} s (a damaged file?)`));
    }, ms);
    const onMessage = (m: Message) => {
      finish();
      if ('nodes' in m) return resolve(m.nodes);
      if ('error' in m) {
        if (m.fatal) drop(w);
        return reject(new H5Error(m.error));
      }
    };
    const onError = (e: Error) => {
      finish();
      drop(w);
      reject(new H5Error(`the HDF5 reader stopped: ${e.message}`));
    };
    const onExit = (code: number) => onError(new Error(`exit code ${code}`));
    w.on('message', onMessage).on('error', onError).on('exit', onExit);
    w.ref();
    const copy = bytes.slice();
    w.postMessage(copy, [copy.buffer]);
  });
}

async function read(bytes: Uint8Array): Promise<H5Snapshot> {
  if (!noWorker) worker ??= startWorker();
  const w = await worker;
  if (!w) {
    noWorker = true;
    worker = undefined;
    return snapshotHdf5(bytes, KERAS_SNAPSHOT);
  }
  return request(w, bytes, timeoutOverride ?? baseMs(bytes.length));
}

/** The snapshot of a Keras HDF5 file (its structure, attributes and weights); problems are H5Errors. One file at a time. */
export function readKerasHdf5(bytes: Uint8Array): Promise<H5Reader> {
  const run = queue.then(() => read(bytes));
  queue = run.catch(() => undefined);
  return run.then((nodes) => new H5Reader(nodes));
}
