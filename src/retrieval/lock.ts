/**
 * One writer per data folder across processes: `write.lock` holds the writer's pid. A lock
 * left by a killed process (pid gone) is taken over, so a SIGKILLed ingest never blocks
 * the next one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RagspecError } from '../util/errors.ts';

export function acquireWriteLock(dir: string): () => void {
  const file = path.join(dir, 'write.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && alive(pid)) {
      throw new RagspecError(`${dir} is being written by another ragspec process (pid ${pid})`, {
        code: 'store_busy',
        kind: 'conflict',
        hint: 'wait for that ingest to finish, or stop it',
      });
    }
    // Stale (its process is gone) or our own leftover: take it over.
    fs.rmSync(file, { force: true });
  }
  throw new RagspecError(`cannot take the write lock ${file}`, { code: 'store_busy', kind: 'conflict' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
