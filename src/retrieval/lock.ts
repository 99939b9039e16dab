/**
 * One writer per data folder across processes: `write.lock` holds `<pid> <token>`.
 *
 * Invariants:
 * - The lock file is never seen empty or half-written: its content is written to a temp file
 *   first and the lock appears by `link` (exclusive: fails if the lock exists), in one step.
 * - Only its owner removes a lock: release deletes it only while it still holds the owner's
 *   own token.
 * - A lock whose pid is gone (a SIGKILLed ingest) is taken over, but only under a second,
 *   short-lived exclusive file (`write.lock.takeover`) and only after re-reading that the lock
 *   is still the stale one, so two processes that both saw it stale cannot both take it.
 * - Content that names no pid (a lock from an older ragspec, or a damaged one) counts as stale
 *   only once it is older than STALE_UNREADABLE_MS.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RagspecError } from '../util/errors.ts';

const LOCK = 'write.lock';
const TAKEOVER = 'write.lock.takeover';
/** A takeover marker or unreadable lock older than this was left by a dead process. */
export const STALE_UNREADABLE_MS = 10_000;

function busy(dir: string, pid?: number): RagspecError {
  return new RagspecError(`${dir} is being written by another ragspec process${pid ? ` (pid ${pid})` : ''}`, {
    code: 'store_busy',
    kind: 'conflict',
    hint: 'wait for that ingest to finish, or stop it',
  });
}

/** Create `file` holding `content`, atomically and only if it does not exist. */
function createExclusive(file: string, content: string): boolean {
  const tmp = `${file}.${randomUUID()}.tmp`;
  fs.writeFileSync(tmp, content, { flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Lock contents this process holds now. */
const held = new Set<string>();

export function acquireWriteLock(dir: string): () => void {
  const file = path.join(dir, LOCK);
  const mine = `${process.pid} ${randomUUID()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, mine)) {
      held.add(mine);
      return releaser(file, mine);
    }
    const seen = readOrNull(file);
    if (seen === null) continue; // released between our two steps: try again
    const pid = Number(seen.trim().split(/\s+/)[0]);
    const named = Number.isInteger(pid) && pid > 0;
    if (named && pid === process.pid) {
      // Ours by pid: held by another writer in this process, or left by an earlier process
      // that had the same pid (containers restart as pid 1).
      if (held.has(seen)) throw busy(dir);
    } else if (named && alive(pid)) throw busy(dir, pid);
    if (!named && ageMs(file) < STALE_UNREADABLE_MS) throw busy(dir);
    takeOver(dir, file, seen);
  }
  throw busy(dir);
}

/** Remove the stale lock `seen`, as the only process doing so. */
function takeOver(dir: string, file: string, seen: string): void {
  const marker = path.join(dir, TAKEOVER);
  if (!createExclusive(marker, `${process.pid}\n`)) {
    // Another process is taking over right now, or died doing so long ago.
    if (ageMs(marker) < STALE_UNREADABLE_MS) throw busy(dir);
    fs.rmSync(marker, { force: true });
    if (!createExclusive(marker, `${process.pid}\n`)) throw busy(dir);
  }
  try {
    // Only a takeover (excluded by the marker) or the dead owner could replace the lock, so
    // if it still holds what we saw, it is still the stale one.
    if (readOrNull(file) === seen) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

function releaser(file: string, mine: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(mine);
    // Not ours any more (taken over after we were presumed dead): leave it to its owner.
    if (readOrNull(file) === mine) fs.rmSync(file, { force: true });
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
