/**
 * `ragspec start`: the one command of the README. Runs setup when the model assets are
 * missing, ingests the default corpus when the index is missing, then serves and prints a
 * ready-to-paste curl example.
 */
import type { Command } from 'commander';
import { dataDirOf } from '../../api/server.ts';
import { ensureDefaultCorpus } from '../setup/corpus-step.ts';
import { runSetup, setupLooksDone } from '../setup/index.ts';
import { addServeOptions, configFrom, serve, type ServeFlags } from './serve.ts';

const log = (line: string) => process.stderr.write(`ragspec: ${line}\n`);

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
    // The configured data folder may differ from setup's default one.
    await ensureDefaultCorpus(dataDirOf(config), log);
    await serve(o, config);
  });
}
