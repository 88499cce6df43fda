/**
 * Fuzz worker process: runs cases [start, end) of one format and reports each over IPC, so the
 * parent can time every case out and survive a crash or an out-of-memory abort.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../src/core/errors';
import { planCase, runCase, type CaseResult, type HostilePlan } from './cases';
import type { FuzzFormat, SeedManifest } from './seeds';

export interface ChildJob {
  root: string;
  format: FuzzFormat;
  seed: number;
  start: number;
  end: number;
  /**
   * Replace the reader by broken ones to prove the harness sees them: crash, hang, exit, unnamed
   * error in turn (true), or runaway memory ('memory').
   */
  selfTest?: boolean | 'memory';
  hostile: HostilePlan;
}

const BROKEN_READERS: ((path: string) => Promise<unknown>)[] = [
  (p) => Promise.resolve().then(() => (JSON.parse('null') as { x: string }).x.length + p.length),
  () =>
    new Promise(() => {
      for (;;);
    }),
  () => process.exit(3),
  () => Promise.reject(new DataError('somewhere else', 'does not say which file')),
];

/** Allocates without end, off the V8 heap, so --max-old-space-size does not stop it: only the parent's watchdog can. */
async function memoryHog(): Promise<unknown> {
  const held: Buffer[] = [];
  for (;;) {
    held.push(Buffer.alloc(64 * 2 ** 20, 1));
    await new Promise((r) => setTimeout(r, 5));
  }
}

function brokenReader(selfTest: ChildJob['selfTest'], i: number): ((path: string) => Promise<unknown>) | undefined {
  if (selfTest === 'memory') return memoryHog;
  return selfTest ? BROKEN_READERS[i % BROKEN_READERS.length] : undefined;
}

export type ChildMessage =
  /** A case begins (its preparation); `plan` is the hostile mutation, if any. */
  | { t: 'start'; index: number; plan?: string }
  /** The case is prepared; the reader runs now. */
  | { t: 'read'; index: number; seed: string; file: string; ops: string[] }
  | { t: 'done'; result: CaseResult; rssMb: number }
  | { t: 'end' };

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

process.once('message', (job: ChildJob) => {
  void (async () => {
    const manifest = JSON.parse(readFileSync(join(job.root, 'manifest.json'), 'utf8')) as SeedManifest;
    const caseDir = join(job.root, 'case', job.format);
    for (let i = job.start; i < job.end; i++) {
      await send({ t: 'start', index: i, plan: planCase(job.seed, job.format, i, job.hostile) });
      const result = await runCase(manifest, job.format, job.seed, i, caseDir, brokenReader(job.selfTest, i), job.hostile, (c) =>
        send({ t: 'read', index: i, seed: c.seed.dir, file: c.file, ops: c.ops }),
      );
      await send({ t: 'done', result, rssMb: process.memoryUsage().rss / 2 ** 20 });
    }
    await send({ t: 'end' });
    process.disconnect();
  })();
});
