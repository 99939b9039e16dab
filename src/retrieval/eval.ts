/**
 * Retrieval evaluation on a question → source-file set (`../shared/eval/npm-docs-dev.jsonl`):
 * recall@k is the share of questions whose source document is among the top k passages.
 */
import fs from 'node:fs';
import { BadFileError } from '../util/errors.ts';
import type { Retriever, SearchOptions } from './types.ts';

export interface EvalItem {
  id: string;
  question: string;
  source: string;
}

export function loadEvalSet(file: string): EvalItem[] {
  if (!fs.existsSync(file))
    throw new BadFileError(file, 'eval set not found', 'clone the shared/ folder beside the repository');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const o = JSON.parse(l) as Partial<EvalItem>;
      if (typeof o.question !== 'string' || typeof o.source !== 'string')
        throw new BadFileError(file, `line ${i + 1}: needs question and source`);
      return { id: o.id ?? `q${i + 1}`, question: o.question, source: o.source };
    });
}

export interface RecallResult {
  method: NonNullable<SearchOptions['method']>;
  k: number;
  recall: number;
  hits: number;
  total: number;
  misses: string[];
}

export async function recallAtK(
  retriever: Retriever,
  items: readonly EvalItem[],
  k: number,
  method: RecallResult['method'],
): Promise<RecallResult> {
  let hits = 0;
  const misses: string[] = [];
  for (const it of items) {
    const res = await retriever.search(it.question, { k, method });
    if (res.some((p) => p.path === it.source)) hits++;
    else misses.push(it.id);
  }
  return { method, k, recall: items.length ? hits / items.length : 0, hits, total: items.length, misses };
}

/** A markdown table of recall@k, one row per method. */
export function recallTable(results: readonly RecallResult[]): string {
  const rows = results.map((r) => `| ${r.method} | ${r.recall.toFixed(3)} | ${r.hits}/${r.total} |`);
  const k = results[0]?.k ?? 5;
  return [`| method | recall@${k} | hits |`, '| --- | --- | --- |', ...rows].join('\n');
}
