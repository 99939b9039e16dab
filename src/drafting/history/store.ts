/**
 * HistoryStore: the target's past output token sequences ("entries"), indexed by a suffix
 * automaton, persisted in the data dir beside the corpus, bounded in size.
 *
 * Files (in `dir`):
 * - `history.bin`: the snapshot. Written whole to `history.bin.tmp`, fsynced, renamed over
 *   the old one (and the folder fsynced), so a kill at any moment leaves the last good
 *   snapshot. Layout: MAGIC (16 bytes) | u32 header bytes | header JSON | i32 tokens of every
 *   entry, in header order | u32 crc32 of everything before.
 * - `history.journal`: records appended since the snapshot, one per entry:
 *   u32 payload bytes | u32 crc32(payload) | payload (u32 JSON bytes | JSON {id, mark?} |
 *   i32 tokens). A kill mid-append leaves a torn last record; loading stops at the first bad
 *   record and a writer cuts it off before appending. A record is one atomic unit: an
 *   entry and its mark (a distilled passage's done key) land together or not at all.
 *
 * Invariants:
 * - Entry ids only grow; the snapshot holds `nextId`, and journal records with an id below
 *   it are already in the snapshot (a kill between the snapshot's rename and the journal's
 *   truncation replays nothing twice).
 * - Held tokens ≤ maxTokens after every `append`: least recently used entries (`used` is a
 *   logical clock, bumped when an entry is added or its drafts are accepted) are evicted
 *   down to EVICT_TO × maxTokens, and the automaton is rebuilt from the rest.
 * - Marks are never evicted (a passage distilled once stays done).
 * - One writer process at a time: a writer holds `writer.lock` (its pid). A second process
 *   that opens the store for writing while that pid is alive opens it read-only instead
 *   (`lockedBy`), or fails with `onLocked: 'throw'` (distill); a lock whose process died is
 *   taken over. Two processes compacting one journal would lose records. `used` clocks
 *   reach the disk at compaction only, so LRU order across processes is approximate.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { BadFileError, RagspecError } from '../../util/errors.ts';
import { SuffixAutomaton } from './suffix-automaton.ts';

export const HISTORY_FILE = 'history.bin';
export const JOURNAL_FILE = 'history.journal';
export const LOCK_FILE = 'writer.lock';
const MAGIC = Buffer.from('RAGSPEC-HISTORY1', 'latin1'); // 16 bytes

/** Default bound on held tokens (~100-150 MB of automaton when full). */
export const DEFAULT_MAX_TOKENS = 1_000_000;
/** After an eviction, hold at most this share of maxTokens (so evictions are rare). */
export const EVICT_TO = 0.9;
/** Fold the journal into a new snapshot once it holds this many tokens. */
const COMPACT_JOURNAL_TOKENS = 50_000;

export interface HistoryEntry {
  id: number;
  tokens: number[];
  /** Logical clock of the last use (add or accepted draft). */
  used: number;
}

export interface HistoryStoreOptions {
  /** Bound on held tokens (default DEFAULT_MAX_TOKENS). */
  maxTokens?: number;
  /** Never write (benchmarks: dev-set runs must not feed themselves). */
  readOnly?: boolean;
  /**
   * When another live process holds the writer lock: open read-only (default; `lockedBy`
   * names it) or throw (a job whose whole point is writing, such as distill).
   */
  onLocked?: 'read-only' | 'throw';
}

/** Writer locks this process holds (removed at exit, so a clean exit leaves none). */
const heldLocks = new Set<string>();
let exitHookSet = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * Take `dir`'s writer lock: null when this process holds it now, else the pid of the live
 * process that does. A lock left by a dead process is taken over.
 */
function takeWriterLock(dir: string): number | null {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      heldLocks.add(file);
      if (!exitHookSet) {
        exitHookSet = true;
        process.once('exit', () => {
          for (const f of heldLocks) fs.rmSync(f, { force: true });
        });
      }
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    } catch {
      continue; // removed in between: try again
    }
    if (pid === process.pid) return null; // another store of this process: its caller's business
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) return pid;
    fs.rmSync(file, { force: true }); // its writer died without removing it
  }
  return null;
}

interface SnapshotHeader {
  version: 1;
  nextId: number;
  clock: number;
  entries: { id: number; length: number; used: number }[];
  marks: string[];
}

export class HistoryStore {
  readonly maxTokens: number;
  readonly readOnly: boolean;
  /** The live process whose writer lock made this store read-only, or null. */
  readonly lockedBy: number | null;
  /** Entries in automaton order (index i = automaton sequence i). */
  private entries: HistoryEntry[] = [];
  private index = new SuffixAutomaton();
  private readonly marks = new Set<string>();
  private nextId = 0;
  private clock = 0;
  private heldTokens = 0;
  /** Journal records not yet written. */
  private pending: Buffer[] = [];
  private journalTokens = 0;
  /** An eviction or a torn journal tail: the next flush writes a snapshot. */
  private needsSnapshot = false;

  private constructor(
    readonly dir: string | null,
    opts: HistoryStoreOptions,
    lockedBy: number | null = null,
  ) {
    this.maxTokens = Math.max(1, opts.maxTokens ?? DEFAULT_MAX_TOKENS);
    this.lockedBy = lockedBy;
    this.readOnly = (opts.readOnly ?? dir === null) || lockedBy !== null;
  }

  /** An empty store that lives in memory only. */
  static inMemory(opts: HistoryStoreOptions = {}): HistoryStore {
    return new HistoryStore(null, { ...opts, readOnly: true });
  }

  /** Load the store in `dir` (empty when there is none yet). */
  static open(dir: string, opts: HistoryStoreOptions = {}): HistoryStore {
    const lockedBy = opts.readOnly ? null : takeWriterLock(dir);
    if (lockedBy !== null && opts.onLocked === 'throw')
      throw new RagspecError(`the history in ${dir} is being written by process ${lockedBy}`, {
        code: 'history_locked',
        kind: 'conflict',
        hint: 'stop that process (a running `ragspec serve`, `ask` or `distill` on the same data folder) and run this again',
      });
    const s = new HistoryStore(dir, opts, lockedBy);
    s.load();
    return s;
  }

  /** Write what is pending and give up the writer lock (the next writer may open it). */
  close(): void {
    try {
      this.flush();
    } finally {
      if (!this.readOnly && this.dir) {
        const file = path.join(this.dir, LOCK_FILE);
        if (heldLocks.delete(file)) fs.rmSync(file, { force: true });
      }
    }
  }

  get automaton(): SuffixAutomaton {
    return this.index;
  }

  get tokenCount(): number {
    return this.heldTokens;
  }

  get entryCount(): number {
    return this.entries.length;
  }

  /** The entry behind automaton sequence `seq`. */
  entryAt(seq: number): HistoryEntry {
    return this.entries[seq]!;
  }

  get markCount(): number {
    return this.marks.size;
  }

  hasMark(mark: string): boolean {
    return this.marks.has(mark);
  }

  /** Add an output sequence (and optionally a mark, in the same record). In memory; `flush` writes. */
  append(tokens: readonly number[], mark?: string): void {
    if (tokens.length === 0 && mark === undefined) return;
    const entry: HistoryEntry = { id: this.nextId++, tokens: [...tokens], used: ++this.clock };
    if (mark !== undefined) this.marks.add(mark);
    if (!this.readOnly) {
      this.pending.push(journalRecord(entry, mark));
      this.journalTokens += tokens.length;
    }
    if (tokens.length === 0) return;
    this.entries.push(entry);
    this.index.add(entry.tokens);
    this.heldTokens += tokens.length;
    if (this.heldTokens > this.maxTokens) this.evict();
  }

  /** Note that drafts from automaton sequence `seq` were accepted (LRU order). */
  touch(seq: number): void {
    const e = this.entries[seq];
    if (e) e.used = ++this.clock;
  }

  /**
   * Write what was appended: one append + fsync of the journal, or a new snapshot when the
   * journal has grown large or entries were evicted. No-op when read-only or nothing changed.
   */
  flush(): void {
    if (this.readOnly || !this.dir) return;
    if (this.needsSnapshot || this.journalTokens >= COMPACT_JOURNAL_TOKENS) {
      this.compact();
      return;
    }
    if (this.pending.length === 0) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const fd = fs.openSync(path.join(this.dir, JOURNAL_FILE), 'a');
    try {
      fs.writeSync(fd, Buffer.concat(this.pending));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.pending = [];
  }

  /** Write a full snapshot (atomic rename), then empty the journal. */
  compact(): void {
    if (this.readOnly || !this.dir) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const header: SnapshotHeader = {
      version: 1,
      nextId: this.nextId,
      clock: this.clock,
      entries: this.entries.map((e) => ({ id: e.id, length: e.tokens.length, used: e.used })),
      marks: [...this.marks],
    };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const toks = new Int32Array(this.heldTokens);
    let at = 0;
    for (const e of this.entries) {
      toks.set(e.tokens, at);
      at += e.tokens.length;
    }
    const body = Buffer.concat([MAGIC, u32(json.length), json, Buffer.from(toks.buffer)]);
    const file = path.join(this.dir, HISTORY_FILE);
    writeAtomic(file, Buffer.concat([body, u32(zlib.crc32(body))]));
    // Records below nextId are in the snapshot now; a kill before this truncation is harmless.
    fs.writeFileSync(path.join(this.dir, JOURNAL_FILE), Buffer.alloc(0));
    this.pending = [];
    this.journalTokens = 0;
    this.needsSnapshot = false;
  }

  private evict(): void {
    const keep = Math.floor(this.maxTokens * EVICT_TO);
    const byAge = [...this.entries].sort((a, b) => a.used - b.used);
    const drop = new Set<HistoryEntry>();
    let held = this.heldTokens;
    for (const e of byAge) {
      if (held <= keep) break;
      drop.add(e);
      held -= e.tokens.length;
    }
    this.rebuild(this.entries.filter((e) => !drop.has(e)));
    this.needsSnapshot = true;
  }

  private rebuild(entries: HistoryEntry[]): void {
    this.entries = entries;
    this.index = new SuffixAutomaton();
    this.heldTokens = 0;
    for (const e of entries) {
      this.index.add(e.tokens);
      this.heldTokens += e.tokens.length;
    }
  }

  private load(): void {
    const dir = this.dir!;
    const file = path.join(dir, HISTORY_FILE);
    const entries: HistoryEntry[] = [];
    // a snapshot write a kill interrupted: never renamed, so never part of the store
    if (!this.readOnly) fs.rmSync(`${file}.tmp`, { force: true });
    if (fs.existsSync(file)) {
      const buf = fs.readFileSync(file);
      const bad = (why: string): never => {
        throw new BadFileError(
          file,
          `not a valid history store (${why})`,
          'delete history.bin and history.journal to start an empty history (or run `ragspec distill` again)',
        );
      };
      if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) bad('bad magic');
      const body = buf.subarray(0, buf.length - 4);
      if (zlib.crc32(body) !== buf.readUInt32LE(buf.length - 4)) bad('checksum mismatch');
      const hlen = buf.readUInt32LE(MAGIC.length);
      const hstart = MAGIC.length + 4;
      const header = JSON.parse(buf.subarray(hstart, hstart + hlen).toString('utf8')) as SnapshotHeader;
      const tokBytes = body.subarray(hstart + hlen);
      const toks = new Int32Array(
        tokBytes.buffer.slice(tokBytes.byteOffset, tokBytes.byteOffset + tokBytes.length),
      );
      let at = 0;
      for (const h of header.entries) {
        entries.push({ id: h.id, used: h.used, tokens: Array.from(toks.subarray(at, at + h.length)) });
        at += h.length;
      }
      if (at !== toks.length) bad('token count mismatch');
      this.nextId = header.nextId;
      this.clock = header.clock;
      for (const m of header.marks) this.marks.add(m);
    }
    this.rebuild(entries);
    this.replayJournal(path.join(dir, JOURNAL_FILE));
    if (this.heldTokens > this.maxTokens) this.evict();
  }

  private replayJournal(file: string): void {
    if (!fs.existsSync(file)) return;
    const buf = fs.readFileSync(file);
    let at = 0;
    while (at + 8 <= buf.length) {
      const n = buf.readUInt32LE(at);
      if (at + 8 + n > buf.length) break;
      const payload = buf.subarray(at + 8, at + 8 + n);
      if (zlib.crc32(payload) !== buf.readUInt32LE(at + 4)) break;
      const rec = parseRecord(payload);
      if (!rec) break;
      at += 8 + n;
      this.journalTokens += rec.tokens.length;
      if (rec.id < this.nextId) continue; // already in the snapshot
      this.nextId = rec.id + 1;
      if (rec.mark !== undefined) this.marks.add(rec.mark);
      if (rec.tokens.length === 0) continue;
      const entry = { id: rec.id, tokens: rec.tokens, used: ++this.clock };
      this.entries.push(entry);
      this.index.add(entry.tokens);
      this.heldTokens += entry.tokens.length;
    }
    // A torn tail (a kill mid-append): appending after it would hide every later record.
    if (at < buf.length && !this.readOnly) this.needsSnapshot = true;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function journalRecord(entry: HistoryEntry, mark: string | undefined): Buffer {
  const json = Buffer.from(
    JSON.stringify(mark === undefined ? { id: entry.id } : { id: entry.id, mark }),
    'utf8',
  );
  const payload = Buffer.concat([u32(json.length), json, Buffer.from(Int32Array.from(entry.tokens).buffer)]);
  return Buffer.concat([u32(payload.length), u32(zlib.crc32(payload)), payload]);
}

function parseRecord(p: Buffer): { id: number; mark?: string; tokens: number[] } | null {
  if (p.length < 4) return null;
  const jlen = p.readUInt32LE(0);
  if (4 + jlen > p.length || (p.length - 4 - jlen) % 4 !== 0) return null;
  try {
    const meta = JSON.parse(p.subarray(4, 4 + jlen).toString('utf8')) as { id: number; mark?: string };
    const tokens: number[] = [];
    for (let at = 4 + jlen; at < p.length; at += 4) tokens.push(p.readInt32LE(at));
    return { id: meta.id, mark: meta.mark, tokens };
  } catch {
    return null;
  }
}

/** Write a file so that a kill at any moment leaves either the old or the new content. */
function writeAtomic(file: string, data: Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const d = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(d);
    fs.closeSync(d);
  } catch {
    // some filesystems cannot fsync a folder; the rename itself is still atomic
  }
}
