/**
 * `ragspec distill` on the real model resumes after SIGKILL without repeating finished work:
 * a first run (budget 3 passages, short answers) is killed right after its first passage is
 * reported done; what it recorded is on disk (answer and done key together); a second run
 * reports exactly those passages as done before, distills others, and every passage ends up
 * with exactly one answer in the history; a history another live process is writing is
 * refused with one line. Needs the converted model and an ingested corpus:
 * it FAILS (never skips) without them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HistoryStore, JOURNAL_FILE, LOCK_FILE } from '../../src/drafting/history/store.ts';
import { paths, repoRoot } from '../../src/util/paths.ts';
import { targetGguf } from '../helpers/assets.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-distill-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FLAGS = ['--max-passages', '3', '--max-tokens', '12', '-k', '2'];

/** Runs `ragspec distill`; with `killAfter`, SIGKILLs it once stderr matches. */
function run(data: string, killAfter?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'bin', 'ragspec.js'), 'distill', '--data', data, ...FLAGS],
      {
        cwd: repoRoot,
        env: { ...process.env, CI: '1' }, // plain progress lines
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (killAfter?.test(err)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('ragspec distill (real model)', () => {
  it('resumes after SIGKILL without repeating finished passages', async () => {
    targetGguf(); // fails with "run `npx ragspec setup`" when the model is missing
    const src = paths.data();
    if (!fs.existsSync(path.join(src, 'ragspec.db')))
      throw new Error(`no corpus at ${src} — run \`npx ragspec ingest\` first`);
    const data = path.join(tmp, 'data');
    fs.mkdirSync(data);
    for (const f of fs.readdirSync(src))
      if (/^(ragspec\.db|index-\d+\.hnsw)$/.test(f)) fs.copyFileSync(path.join(src, f), path.join(data, f));

    const first = await run(data, /distill: 33%/);
    expect(first.code, first.err).toBeNull(); // killed, not exited
    const afterKill = HistoryStore.open(data, { readOnly: true });
    const done1 = afterKill.markCount;
    expect(done1).toBeGreaterThanOrEqual(1); // the passage reported done is on disk
    expect(done1).toBeLessThan(3);
    expect(afterKill.entryCount).toBeLessThanOrEqual(done1); // no answer without its done key

    const second = await run(data);
    expect(second.code, second.err).toBe(0);
    const m = /distilled (\d+) passages .*; (\d+) without a question\); (\d+) done before/.exec(second.out);
    expect(m, second.out).not.toBeNull();
    const [distilled, noQuestion, doneBefore] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(doneBefore).toBe(done1); // the killed run's finished passages are skipped
    expect(distilled + noQuestion).toBe(3);
    const end = HistoryStore.open(data, { readOnly: true });
    expect(end.markCount).toBe(done1 + 3);
    // one answer per passage: nothing was distilled twice
    expect(end.entryCount).toBe(end.markCount - noQuestion - (done1 - afterKill.entryCount));
    expect(fs.readdirSync(data).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // another live process writing this history (this test process stands in for a
    // `ragspec serve`): distill refuses with one line naming it, and writes nothing
    const lock = path.join(data, LOCK_FILE);
    fs.writeFileSync(lock, `${process.pid}\n`);
    const journal = fs.readFileSync(path.join(data, JOURNAL_FILE));
    const locked = await run(data);
    expect(locked.code).toBe(1);
    expect(locked.err).toMatch(new RegExp(`being written by process ${process.pid}`));
    expect(locked.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.readFileSync(path.join(data, JOURNAL_FILE))).toEqual(journal);
    expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    fs.rmSync(lock);
  }, 600_000);
});
