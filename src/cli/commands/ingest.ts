/**
 * `ragspec ingest [paths...]` — add files and folders (.md, .txt, .html, .jsonl) to the
 * corpus; with no paths, the default corpus (npm's docs + corpus/). Progress bar on a TTY,
 * plain lines otherwise; a summary at the end (`--json` for machines). The corpus is the
 * SQLite folder (`--data`), or a PostgreSQL database (`--store postgres://…`, or
 * RAGSPEC_DATABASE_URL when neither flag is given).
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import {
  openCorpus,
  openCorpusAt,
  defaultCorpusRoots,
  redactUrl,
  type CorpusStats,
  type IngestProgress,
  type IngestSummary,
} from '../../retrieval/index.ts';
import { PgCorpus } from '../../retrieval/pg/corpus.ts';
import { copySqliteCorpus } from '../../retrieval/pg/copy-sqlite.ts';
import { cliStoreTarget, STORE_FLAG_HELP } from '../store-target.ts';
import { RagspecError } from '../../util/errors.ts';

interface IngestFlags {
  include?: string[];
  exclude?: string[];
  prune?: boolean;
  rebuild?: boolean;
  stats?: boolean;
  json?: boolean;
  maxFileSize?: string;
  data?: string;
  store?: string;
  copyFrom?: string;
  batch?: string;
  commitEvery?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command('ingest')
    .description(
      "Add documents to the corpus (default: npm's bundled docs + corpus/). Unchanged files are skipped.",
    )
    .argument(
      '[paths...]',
      'files or folders of .md, .txt, .html, .jsonl ({id?, title?, url?, text} per line)',
    )
    .option(
      '--include <glob>',
      'only files matching this glob (relative to each folder; repeatable)',
      collect,
    )
    .option('--exclude <glob>', 'skip files matching this glob (repeatable)', collect)
    .option('--prune', 'remove documents whose files are gone (not seen by this ingest)')
    .option('--rebuild', 're-embed every stored document into a fresh index (fixes a damaged index file)')
    .option('--stats', 'print documents, passages, index size and embedding model, and exit')
    .option('--json', 'machine-readable output')
    .option('--max-file-size <bytes>', 'refuse files larger than this (default 10485760)')
    .option('--data <dir>', 'corpus folder (default .ragspec/data)')
    .option('--store <url>', STORE_FLAG_HELP)
    .option(
      '--copy-from <dir>',
      'with --store: copy an existing SQLite corpus folder (documents, passages, vectors) into PostgreSQL without re-embedding',
    )
    .option('--batch <n>', 'passages per embedding forward (default 16)')
    .option('--commit-every <n>', 'passages per commit / index generation (default 256)')
    .action(async (inputs: string[], o: IngestFlags) => {
      const target = cliStoreTarget(o);
      const dir = target.kind === 'postgres' ? redactUrl(target.url) : target.dir;
      const corpus = await openCorpusAt(target, { embedBatch: positive(o.batch, '--batch') });
      try {
        if (o.stats) return printStats(await corpus.stats(), o.json);
        if (o.copyFrom) {
          if (!(corpus instanceof PgCorpus))
            throw new RagspecError('--copy-from copies into PostgreSQL', {
              code: 'bad_flag',
              kind: 'bad_input',
              hint: 'add --store postgres://…',
            });
          const source = await openCorpus(o.copyFrom, { readOnly: true });
          const progress = makeProgress(!!o.json);
          try {
            const r = await copySqliteCorpus(source, corpus, progress.update);
            console.log(
              o.json
                ? JSON.stringify({ ...r, dir }, null, 2)
                : `copied ${r.documents} documents (${r.passages} passages) from ${o.copyFrom} into ${dir}; ${r.skipped} unchanged`,
            );
          } finally {
            progress.stop();
            await source.close();
          }
          return;
        }
        const roots = inputs.length ? inputs : o.rebuild ? [] : defaultCorpusRoots();
        const progress = makeProgress(!!o.json);
        let summary: IngestSummary;
        try {
          summary = await corpus.ingestPaths(
            roots,
            {
              include: o.include,
              exclude: o.exclude,
              prune: o.prune,
              rebuild: o.rebuild,
              maxFileSize: positive(o.maxFileSize, '--max-file-size'),
              commitEvery: positive(o.commitEvery, '--commit-every'),
            },
            progress.update,
          );
        } finally {
          progress.stop();
        }
        for (const issue of summary.issues) console.error(`ragspec: warning: ${issue.message}`);
        if (o.json) console.log(JSON.stringify({ ...summary, dir }, null, 2));
        else console.log(formatSummary(summary, dir));
      } finally {
        await corpus.close();
      }
    });
}

function positive(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new RagspecError(`${flag} must be a positive whole number (got "${v}")`, { code: 'bad_flag' });
  return n;
}

function makeProgress(json: boolean): { update: (p: IngestProgress) => void; stop: () => void } {
  if (process.stderr.isTTY && !json) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'ingest |{bar}| {value}/{total} passages · {phase} · docs {docs} · gen {gen}',
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p) => {
        if (p.phase === 'load') return;
        const payload = { phase: p.phase, docs: `${p.docsDone}/${p.docsTotal}`, gen: p.generation ?? 0 };
        if (!started) {
          bar.start(Math.max(p.passagesTotal, 1), p.passagesDone, payload);
          started = true;
        } else bar.update(p.passagesDone, payload);
      },
      stop: () => started && bar.stop(),
    };
  }
  // Not a terminal (CI, pipes, the crash test): one plain line per embedding batch and per commit.
  return {
    update: (p) => {
      if (p.phase !== 'load' && p.phase !== 'done') {
        console.error(
          `ingest: ${p.phase} ${p.passagesDone}/${p.passagesTotal} passages, ${p.docsDone}/${p.docsTotal} docs, generation ${p.generation ?? 0}`,
        );
      }
    },
    stop: () => undefined,
  };
}

export function formatSummary(s: IngestSummary, dir: string): string {
  const issues = Object.entries(s.issueCounts)
    .map(([k, n]) => `${n} ${k.replace('_', ' ')}`)
    .join(', ');
  return [
    `ingested into ${dir}`,
    `  documents: ${s.docsAdded} added, ${s.docsChanged} changed, ${s.docsSkipped} unchanged (skipped), ${s.docsRemoved} removed` +
      (s.docsFailed ? `, ${s.docsFailed} skipped with warnings (${issues})` : ''),
    `  passages:  ${s.passagesEmbedded} embedded, ${s.passagesTotal} in the corpus (${s.documentsTotal} documents)`,
    `  time:      ${s.seconds.toFixed(1)} s, ${s.passagesPerSecond.toFixed(1)} passages/s`,
  ].join('\n');
}

function printStats(s: CorpusStats, json?: boolean): void {
  if (json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  console.log(
    [
      `corpus:    ${s.dir}`,
      `documents: ${s.documents}`,
      `passages:  ${s.passages}`,
      s.dir.startsWith('postgres')
        ? `index:     built in memory by each replica from the stored vectors · generation ${s.generation}`
        : `index:     ${s.indexFile ?? '(empty)'} · ${(s.indexBytes / 1024 / 1024).toFixed(2)} MiB · generation ${s.generation}`,
      `embedder:  ${s.embedder} · ${s.dim} dimensions`,
    ].join('\n'),
  );
}
