/**
 * HistoryStore: persistence round trip, the size bound (least recently used evicted first),
 * a torn journal tail, and durability under SIGKILL (a child process writes, the parent
 * kills it at random moments and checks that every entry the child reported is there,
 * whole, with its mark, and that nothing half-written is).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HISTORY_FILE, HistoryStore, JOURNAL_FILE, LOCK_FILE } from '../../../src/drafting/history/store.ts';
import { repoRoot } from '../../../src/util/paths.ts';
import { seededRandom } from '../../helpers/tiny-gguf.ts';
import { entryTokens } from './history-writer.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-history-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `s${n++}-`));

function contents(s: HistoryStore): number[][] {
  return Array.from({ length: s.entryCount }, (_, i) => s.entryAt(i).tokens);
}

describe('HistoryStore', () => {
  it('round-trips entries and marks through the journal and the snapshot', () => {
    const dir = freshDir();
    const a = HistoryStore.open(dir);
    a.append([1, 2, 3], 'p1');
    a.append([4, 5]);
    a.flush(); // journal only
    expect(fs.statSync(path.join(dir, JOURNAL_FILE)).size).toBeGreaterThan(0);
    const b = HistoryStore.open(dir);
    expect(contents(b)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(b.hasMark('p1')).toBe(true);
    b.append([6, 7, 8], 'p2');
    b.compact(); // snapshot, journal emptied
    expect(fs.statSync(path.join(dir, JOURNAL_FILE)).size).toBe(0);
    const c = HistoryStore.open(dir);
    expect(contents(c)).toEqual([
      [1, 2, 3],
      [4, 5],
      [6, 7, 8],
    ]);
    expect(c.hasMark('p1') && c.hasMark('p2')).toBe(true);
    expect(c.automaton.size).toBe(8);
  });

  it('read-only stores never write', () => {
    const dir = freshDir();
    const s = HistoryStore.open(dir, { readOnly: true });
    s.append([1, 2, 3]);
    s.flush();
    s.compact();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(s.tokenCount).toBe(3); // but what it was given is usable in this process
  });

  it('holds at most maxTokens: the least recently used entries go first', () => {
    const dir = freshDir();
    const s = HistoryStore.open(dir, { maxTokens: 100 });
    for (let i = 0; i < 5; i++) s.append(Array.from({ length: 20 }, (_, k) => i * 100 + k)); // 100 tokens
    expect(s.tokenCount).toBe(100);
    s.touch(0); // entry 0 used again: now entry 1 is the oldest
    s.append(Array.from({ length: 20 }, (_, k) => 900 + k)); // 120 > 100: evict to ≤ 90
    expect(s.tokenCount).toBeLessThanOrEqual(100);
    const firsts = contents(s).map((t) => t[0]);
    expect(firsts).toEqual([0, 300, 400, 900]); // 1 and 2 evicted, the touched 0 kept
    // the automaton was rebuilt from the kept entries only
    expect(s.automaton.matchSuffix([100, 101]).length).toBe(0);
    expect(s.automaton.matchSuffix([300, 301]).length).toBe(2);
    s.flush();
    const again = HistoryStore.open(dir, { maxTokens: 100 });
    expect(contents(again).map((t) => t[0])).toEqual([0, 300, 400, 900]);
    // a smaller bound at load applies at once
    expect(HistoryStore.open(dir, { maxTokens: 50 }).tokenCount).toBeLessThanOrEqual(50);
  });

  it('a torn journal tail is ignored and cut off before the next append', () => {
    const dir = freshDir();
    const s = HistoryStore.open(dir);
    s.append([1, 2, 3], 'a');
    s.append([4, 5, 6], 'b');
    s.flush();
    const j = path.join(dir, JOURNAL_FILE);
    fs.truncateSync(j, fs.statSync(j).size - 5); // the second record loses its last bytes
    const t = HistoryStore.open(dir);
    expect(contents(t)).toEqual([[1, 2, 3]]);
    expect(t.hasMark('b')).toBe(false);
    t.append([7, 8], 'c');
    t.flush();
    const u = HistoryStore.open(dir);
    expect(contents(u)).toEqual([
      [1, 2, 3],
      [7, 8],
    ]);
    expect(u.hasMark('c')).toBe(true);
  });

  it('a corrupt snapshot is refused with a one-line hint', () => {
    const dir = freshDir();
    const s = HistoryStore.open(dir);
    s.append([1, 2, 3]);
    s.compact();
    const f = path.join(dir, HISTORY_FILE);
    const buf = fs.readFileSync(f);
    buf[buf.length - 8]! ^= 0xff;
    fs.writeFileSync(f, buf);
    expect(() => HistoryStore.open(dir)).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/checksum mismatch/),
        hint: expect.stringMatching(/delete history.bin/),
      }),
    );
  });
});

/** Runs the writer from entry `from`; kills it at its `killAt`-th fsync (1-based). */
function writeAndKill(dir: string, from: number, size: number, killAt: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'bin', 'run-ts.js'),
        path.join(repoRoot, 'test/drafting/history/history-writer.ts'),
        dir,
        String(from),
        String(size),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const done: number[] = [];
    let fsyncs = 0;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('done ')) done.push(Number(l.slice(5)));
        else if (l === 'fsync' && ++fsyncs === killAt) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', () => resolve(done));
  });
}

describe('HistoryStore writer lock', () => {
  it('a store another live process writes opens read-only, or throws when asked to', () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.ppid}\n`); // a live process, not this one
    const s = HistoryStore.open(dir);
    expect(s.readOnly).toBe(true);
    expect(s.lockedBy).toBe(process.ppid);
    s.append([1, 2, 3]);
    s.flush();
    expect(fs.existsSync(path.join(dir, JOURNAL_FILE))).toBe(false);
    expect(() => HistoryStore.open(dir, { onLocked: 'throw' })).toThrow(
      new RegExp(`being written by process ${process.ppid}`),
    );
    s.close();
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`); // not ours
  });

  it('a lock left by a dead process is taken over; close gives it up', () => {
    const dir = freshDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited and reaped
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${dead}\n`);
    const s = HistoryStore.open(dir);
    expect(s.readOnly).toBe(false);
    expect(s.lockedBy).toBeNull();
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    s.append([4, 5]);
    s.close();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(contents(HistoryStore.open(dir, { readOnly: true }))).toEqual([[4, 5]]);
  });
});

describe('HistoryStore durability', () => {
  it('SIGKILL at random moments: every reported entry survives whole, nothing torn appears', async () => {
    const dir = freshDir();
    const rand = seededRandom(8_2026);
    const SIZE = 5_000;
    const reported = new Set<number>();
    let next = 0;
    let midSnapshot = 0; // kills that left a half-written snapshot behind (informational)
    for (let round = 0; round < 10; round++) {
      // a flush fsyncs once (the journal), a compaction twice (the new snapshot, its folder)
      const done = await writeAndKill(dir, next, SIZE, 1 + Math.floor(rand() * 7));
      for (const i of done) reported.add(i);
      if (fs.existsSync(path.join(dir, `${HISTORY_FILE}.tmp`))) midSnapshot++;
      // read-only: a writer here would hold the lock the next child needs
      const s = HistoryStore.open(dir, { maxTokens: 1e9, readOnly: true });
      const held = contents(s);
      // every entry present is whole and is one the writer made, in order, with its mark
      held.forEach((toks, k) => {
        expect(toks).toEqual(entryTokens(k, SIZE));
        expect(s.hasMark(`m${k}`)).toBe(true);
      });
      // everything the writer reported done is there
      for (const i of reported) expect(held.length, `entry ${i} lost in round ${round}`).toBeGreaterThan(i);
      expect(s.hasMark(`m${held.length}`)).toBe(false);
      next = held.length;
    }
    console.log(
      `history kills: ${reported.size} entries reported, ${midSnapshot} kills inside a snapshot write`,
    );
    expect(reported.size).toBeGreaterThan(3);
    expect(midSnapshot).toBeGreaterThan(0); // the window between a snapshot's write and rename was hit
  }, 300_000);
});
