import { spawn } from 'node:child_process';
import { withLargePages } from '../shared/large-pages';

/** Set in the relaunched process, so it never relaunches again whatever its environment holds. */
const RELAUNCHED = 'PRUNESCOPE_RELAUNCHED';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The environment to relaunch this CLI process with, or undefined to run here: glibc reads its
 * tunables only at start (see src/shared/large-pages.ts), so where they pay, a process started
 * without them starts itself once more with them. Costs one Node start-up (~50 ms), against
 * seconds of page faults in any job that touches a few hundred MB there.
 */
export function relaunchEnv(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  probe?: () => number,
): NodeJS.ProcessEnv | undefined {
  if (env[RELAUNCHED] === '1') return undefined;
  const next = withLargePages(env, platform, probe);
  return next === env ? undefined : { ...next, [RELAUNCHED]: '1' };
}

/**
 * Runs this very command line again in a child process with `env`, sharing stdin/stdout/stderr,
 * and ends this process as the child ended: same exit code, or the same signal. Signals sent to
 * this process alone (a supervisor's SIGTERM) are passed on, so the child never outlives it.
 */
export function relaunch(env: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`prunescope: could not start: ${e.message}\n`);
    process.exitCode = 1;
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
