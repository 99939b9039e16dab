/**
 * Child process for store.test.ts: appends entries (each with its mark) to the history store
 * in `dir`, flushing after each and compacting every third, and prints `done <i>` once entry
 * i is on disk. Every fsync first prints `fsync` and pauses (a test double patched onto
 * node:fs here, not in the store), so the parent can SIGKILL it inside a journal append or
 * between a snapshot's write and its rename.
 */
import fs from 'node:fs';
import { HistoryStore } from '../../../src/drafting/history/store.ts';

export function entryTokens(i: number, size: number): number[] {
  return Array.from({ length: size }, (_, k) => (i * 7919 + k * 31) % 50_000);
}

if (process.argv[1]?.endsWith('history-writer.ts')) {
  const [dir, from, size] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
  const realFsync = fs.fsyncSync;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  fs.fsyncSync = (fd: number) => {
    fs.writeSync(1, 'fsync\n');
    Atomics.wait(pause, 0, 0, 300);
    realFsync(fd);
  };
  const store = HistoryStore.open(dir, { maxTokens: 1e9 });
  for (let i = from; ; i++) {
    store.append(entryTokens(i, size), `m${i}`);
    if (i % 3 === 2) store.compact();
    else store.flush();
    fs.writeSync(1, `done ${i}\n`);
  }
}
