/**
 * `ragspec start`: the one command of the README. Runs setup when the model assets are
 * missing, ingests the default corpus when the index is missing, then serves and prints a
 * ready-to-paste curl example.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { dataDirOf } from '../../api/server.ts';
import { defaultCorpusRoots, openCorpus } from '../../retrieval/index.ts';
import { runSetup, setupLooksDone } from '../setup/index.ts';
import { addServeOptions, configFrom, serve, type ServeFlags } from './serve.ts';

const log = (line: string) => process.stderr.write(`ragspec: ${line}\n`);

/** The corpus counts as present when its store exists and holds at least one passage. */
async function corpusIsEmpty(dir: string): Promise<boolean> {
  if (!fs.existsSync(path.join(dir, 'ragspec.db'))) return true;
  const corpus = await openCorpus(dir, { readOnly: true });
  try {
    return corpus.stats().passages === 0;
  } finally {
    await corpus.close();
  }
}

export function register(program: Command): void {
  addServeOptions(
    program
      .command('start')
      .description(
        'Set up the default model and corpus when missing, then serve the HTTP API (the quick start)',
      ),
  ).action(async (o: ServeFlags) => {
    const config = configFrom(o); // refuse a bad config before any long step
    if (!o.model && !setupLooksDone()) {
      log('model assets missing — running setup (fetch + convert; takes a few minutes the first time)');
      await runSetup({ log });
    }
    const dir = dataDirOf(config);
    if (await corpusIsEmpty(dir)) {
      log(`no index in ${dir} — ingesting the default corpus (npm's docs + corpus/)`);
      const corpus = await openCorpus(dir);
      try {
        let last = -1;
        const s = await corpus.ingestPaths(defaultCorpusRoots(), {}, (p) => {
          const pct = p.passagesTotal ? Math.floor((100 * p.passagesDone) / p.passagesTotal) : 0;
          if (p.phase === 'commit' && pct !== last) {
            last = pct;
            log(`ingest ${p.passagesDone}/${p.passagesTotal} passages`);
          }
        });
        log(`ingested ${s.documentsTotal} documents, ${s.passagesTotal} passages`);
      } finally {
        await corpus.close();
      }
    }
    await serve(o, config);
  });
}
