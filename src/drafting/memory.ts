/**
 * DraftMemory: what the draft sources learned about this target, kept across requests (one
 * per Engine) and across processes (a small JSON file), so a fresh `ragspec ask` starts from
 * what earlier runs measured instead of from priors:
 * - reference spans: running acceptance, and P(accept) by source kind × match length;
 * - token recycling: per-rank hit rates and the global token → top-k table;
 * - the drafter model: running acceptance and ms per proposal (the planner's pay rule).
 *
 * The sources read and update the objects held here in place; `save` writes them atomically
 * (temp file + rename: a reader or a crash never sees half a file). The file is a cache:
 * a missing, unreadable or foreign-version file means "start from priors", never an error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PRIOR_RANKS, RecycleTable, type RankStats, type RecyclingLearned } from './sources/recycling.ts';
import { freshReferenceLearned, type ReferenceLearned } from './sources/reference.ts';

const VERSION = 1;

export interface DrafterLearned {
  acceptance?: number;
  costMs?: number;
}

interface MemoryFile {
  version: number;
  reference: ReferenceLearned;
  recycling: { acceptance: number; ranks: RankStats; payoffMs?: number; table: [number, number[]][] };
  drafter: DrafterLearned;
}

export class DraftMemory {
  reference: ReferenceLearned = freshReferenceLearned();
  recycling: RecyclingLearned = { acceptance: 0.5, ranks: structuredClone(PRIOR_RANKS) };
  table = new RecycleTable();
  drafter: DrafterLearned = {};

  /** @param file where it persists; null = this process only. */
  constructor(readonly file: string | null = null) {}

  /** The memory saved at `file`, or fresh priors when there is none (or it is unreadable). */
  static open(file: string | null): DraftMemory {
    const m = new DraftMemory(file);
    if (!file) return m;
    try {
      const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<MemoryFile>;
      if (j.version !== VERSION) return m;
      if (j.reference && typeof j.reference.acceptance === 'number' && typeof j.reference.match === 'object')
        m.reference = j.reference;
      const r = j.recycling;
      if (r && Array.isArray(r.ranks?.first) && Array.isArray(r.ranks?.deep)) {
        m.recycling = { acceptance: Number(r.acceptance) || 0.5, ranks: r.ranks };
        if (typeof r.payoffMs === 'number' && Number.isFinite(r.payoffMs)) m.recycling.payoffMs = r.payoffMs;
        m.table = RecycleTable.fromJSON(r.table);
      }
      if (j.drafter && typeof j.drafter === 'object') m.drafter = j.drafter;
    } catch {
      // no file yet, or a damaged one: priors (the next save replaces it)
    }
    return m;
  }

  /** Write atomically; best effort (a read-only cache folder only loses the learning). */
  save(): void {
    if (!this.file) return;
    const body: MemoryFile = {
      version: VERSION,
      reference: this.reference,
      recycling: { ...this.recycling, table: this.table.toJSON() },
      drafter: this.drafter,
    };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(body));
      fs.renameSync(tmp, this.file);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}
