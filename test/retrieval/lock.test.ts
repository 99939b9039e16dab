/**
 * Finding 8 (the write lock can let two writers in): the lock appears with its content in
 * one step, a lock being written is not taken over, release removes only the owner's lock,
 * and a stale lock (dead pid) is taken over by exactly one writer.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireWriteLock } from '../../src/retrieval/lock.ts';
import { repoRoot } from '../../src/util/paths.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-lock-'));
  dirs.push(d);
  return d;
}
const lockOf = (d: string) => path.join(d, 'write.lock');

/** A pid that is certainly gone: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('acquireWriteLock', () => {
  it('creates the lock with its content in one step and leaves no temp files', () => {
    const d = tmp();
    const release = acquireWriteLock(d);
    const content = fs.readFileSync(lockOf(d), 'utf8');
    expect(content).toMatch(new RegExp(`^${process.pid} [0-9a-f-]{36}\\n$`));
    expect(fs.readdirSync(d)).toEqual(['write.lock']);
    release();
    expect(fs.existsSync(lockOf(d))).toBe(false);
  });

  it('does not take over a lock that is still empty (being written by another process)', () => {
    const d = tmp();
    fs.writeFileSync(lockOf(d), '');
    expect(() => acquireWriteLock(d)).toThrow(/being written by another ragspec process/);
    expect(fs.readFileSync(lockOf(d), 'utf8')).toBe('');
  });

  it('refuses while a live process holds it, and a second writer in this process too', () => {
    const d = tmp();
    fs.writeFileSync(lockOf(d), `${process.ppid} someone-else\n`);
    expect(() => acquireWriteLock(d)).toThrow(/pid \d+/);
    fs.rmSync(lockOf(d));
    const release = acquireWriteLock(d);
    expect(() => acquireWriteLock(d)).toThrow(/being written/);
    release();
  });

  it('release removes only its own lock, never one another process now holds', () => {
    const d = tmp();
    const release = acquireWriteLock(d);
    const other = `${process.ppid} another-owner\n`;
    fs.writeFileSync(lockOf(d), other); // taken over while we were presumed dead
    release();
    expect(fs.readFileSync(lockOf(d), 'utf8')).toBe(other);
  });

  it('takes over a lock whose process is gone, and only one of two takers wins', () => {
    const d = tmp();
    fs.writeFileSync(lockOf(d), `${deadPid()}\n`);
    const release = acquireWriteLock(d);
    expect(fs.readFileSync(lockOf(d), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    // A second taker that also saw the dead pid finds a live lock now, not a stale one.
    expect(() => acquireWriteLock(d)).toThrow(/being written/);
    release();
  });

  it('a lock left by an earlier process with our own pid is taken over (container restarts)', () => {
    const d = tmp();
    fs.writeFileSync(lockOf(d), `${process.pid} token-of-a-previous-life\n`);
    const release = acquireWriteLock(d);
    expect(fs.readFileSync(lockOf(d), 'utf8')).not.toContain('previous-life');
    release();
  });

  // A property check, not a regression test: the old code's race windows were too narrow to hit this way.
  it('lets exactly one of several processes in at a time, with stale locks and writers killed while holding', async () => {
    const d = tmp();
    fs.writeFileSync(lockOf(d), `${deadPid()}\n`); // start from a stale lock
    const run = (rounds: number) =>
      spawn(
        process.execPath,
        [path.join(repoRoot, 'bin', 'run-ts.js'), 'test/retrieval/lock-contender.ts', d, String(rounds)],
        {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
    const output = (c: ReturnType<typeof run>) =>
      new Promise<string>((resolve) => {
        let out = '';
        c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        c.on('exit', () => resolve(out));
      });
    // Two victims take the lock over and over and are SIGKILLed mid-run, often holding it.
    const victims = [run(1_000_000), run(1_000_000)];
    const writers = [run(40), run(40), run(40)];
    const results = writers.map(output);
    for (const v of victims) {
      await new Promise((r) => setTimeout(r, 300));
      v.kill('SIGKILL');
    }
    const lines = (await Promise.all(results)).map(
      (o) => JSON.parse(o.trim()) as { got: number; overlaps: number },
    );
    for (const l of lines) expect(l).toEqual({ got: 40, overlaps: 0 });
    // Whatever is left is a killed victim's lock, which the next writer takes over.
    if (fs.existsSync(lockOf(d))) {
      const pid = Number(fs.readFileSync(lockOf(d), 'utf8').split(' ')[0]);
      expect(victims.map((v) => v.pid)).toContain(pid);
    }
  }, 120_000);
});
