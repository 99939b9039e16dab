/**
 * A child process for lock.test.ts: takes the write lock `rounds` times, and while holding it
 * claims `holder` (exclusive create). Finding `holder` claimed by another live process means
 * two writers were in at once. Prints one JSON line: { got, overlaps }.
 */
import fs from 'node:fs';
import path from 'node:path';
import { acquireWriteLock } from '../../src/retrieval/lock.ts';

const [dir, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const holder = path.join(dir!, 'holder');
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let got = 0;
let overlaps = 0;
while (got < rounds) {
  let release: () => void;
  try {
    release = acquireWriteLock(dir!);
  } catch {
    sleep(1 + Math.random() * 3);
    continue;
  }
  try {
    fs.writeFileSync(holder, String(process.pid), { flag: 'wx' });
  } catch {
    const other = Number(fs.readFileSync(holder, 'utf8'));
    if (alive(other)) overlaps++; // another live writer is inside
    fs.writeFileSync(holder, String(process.pid)); // a killed holder's leftover: take it
  }
  sleep(2);
  fs.rmSync(holder, { force: true });
  release();
  got++;
}
process.stdout.write(JSON.stringify({ got, overlaps }) + '\n');
