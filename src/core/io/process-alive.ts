/**
 * Whether a process with this id exists: signal 0 tests without sending anything. EPERM means it
 * exists but belongs to another user, so it counts as alive. Used to tell the leftovers of
 * processes that are gone (journals, scratch folders) from those of processes still running.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
