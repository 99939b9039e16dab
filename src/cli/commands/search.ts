/** `ragspec search "query"` — hybrid (dense + BM25, RRF-fused) search over the corpus. */
import type { Command } from 'commander';
import { openCorpusAt } from '../../retrieval/index.ts';
import { cliStoreTarget, STORE_FLAG_HELP } from '../store-target.ts';
import { RagspecError } from '../../util/errors.ts';

interface SearchFlags {
  k: string;
  pathPrefix?: string;
  method: string;
  json?: boolean;
  data?: string;
  store?: string;
}

export function register(program: Command): void {
  program
    .command('search')
    .description('Search the corpus: dense (MiniLM + HNSW) and BM25 (SQLite FTS5), fused by reciprocal rank.')
    .argument('<query>', 'what to look for')
    .option('-k, --k <n>', 'number of passages', '5')
    .option('--path-prefix <prefix>', 'only documents whose path starts with this (e.g. commands/)')
    .option('--method <method>', 'hybrid, dense or bm25', 'hybrid')
    .option('--json', 'machine-readable output')
    .option('--data <dir>', 'corpus folder (default .ragspec/data)')
    .option('--store <url>', STORE_FLAG_HELP)
    .action(async (query: string, o: SearchFlags) => {
      const k = Number(o.k);
      if (!['hybrid', 'dense', 'bm25'].includes(o.method)) {
        throw new RagspecError(`unknown --method "${o.method}"`, { hint: 'use hybrid, dense or bm25' });
      }
      const corpus = await openCorpusAt(cliStoreTarget(o), { readOnly: true });
      try {
        const res = await corpus.searchWithInfo(query, {
          k,
          pathPrefix: o.pathPrefix,
          method: o.method as 'hybrid',
        });
        if (res.notice) console.error(`ragspec: note: ${res.notice}`);
        if (o.json) {
          console.log(JSON.stringify(res.passages, null, 2));
          return;
        }
        if (!res.passages.length) console.log('no passages matched');
        res.passages.forEach((p, i) => {
          const s = p.scores;
          const where = [p.title, ...p.headingPath].join(' > ');
          console.log(
            `${i + 1}. ${p.path} [${p.start}, ${p.end}) — ${where}\n` +
              `   fused ${s.fused.toFixed(4)} · dense ${s.dense?.toFixed(3) ?? '—'} · bm25 ${s.bm25?.toFixed(2) ?? '—'}\n` +
              indent(p.text.length > 400 ? `${p.text.slice(0, 400)}…` : p.text),
          );
        });
      } finally {
        await corpus.close();
      }
    });
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');
}
