/**
 * Fuzz worker process: runs cases [start, end) of one format and reports each over IPC, so the
 * parent can time every case out and survive a crash or an out-of-memory abort.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors';
import { runCase } from './cases';
import type { FuzzFormat, SeedManifest } from './seeds';

export interface ChildJob {
  root: string;
  format: FuzzFormat;
  seed: number;
  start: number;
  end: number;
  /** Replace the reader by broken ones (crash, hang, exit, unnamed error) to prove the harness sees them. */
  selfTest?: boolean;
}

const BROKEN_READERS: ((path: string) => Promise<unknown>)[] = [
  async (p) => (JSON.parse('null') as { x: string }).x.length + p.length,
  async () => {
    for (;;);
  },
  async () => process.exit(3),
  async () => {
    throw new DataError('somewhere else', 'does not say which file');
  },
];

export type ChildMessage =
  | { t: 'start'; index: number }
  | { t: 'done'; result: import('./cases').CaseResult; rssMb: number }
  | { t: 'end' };

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

process.once('message', (job: ChildJob) => {
  void (async () => {
    const manifest = JSON.parse(readFileSync(join(job.root, 'manifest.json'), 'utf8')) as SeedManifest;
    const caseDir = join(job.root, 'case', job.format);
    for (let i = job.start; i < job.end; i++) {
      await send({ t: 'start', index: i });
      const result = await runCase(manifest, job.format, job.seed, i, caseDir, job.selfTest ? BROKEN_READERS[i % BROKEN_READERS.length] : undefined);
      await send({ t: 'done', result, rssMb: process.memoryUsage().rss / 2 ** 20 });
    }
    await send({ t: 'end' });
    process.disconnect();
  })();
});
