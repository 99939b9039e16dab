/**
 * One stateless replica as its own process, for the replica tests: the real `startServer`
 * with the PostgreSQL corpus (uploads committed 16 passages at a time) and analytics of
 * `RAGSPEC_DATABASE_URL`, and the fake backend
 * in place of the model (these tests are about storage, not generation). Prints
 * `READY <url>` on stdout once the corpus is open.
 *
 *   node bin/run-ts.js test/api/helpers/pg-replica.ts
 */
import { CorpusAdapter } from '../../../src/api/corpus-adapter.ts';
import { openPgCorpus } from '../../../src/retrieval/pg/corpus.ts';
import { startServer } from '../../../src/api/server.ts';
import { createLogger } from '../../../src/api/app.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { FakeBackend } from './fakes.ts';

const config = loadConfig({
  env: process.env,
  overrides: { server: { host: '127.0.0.1', port: 0 }, log: { level: 'warn' } },
});
const srv = await startServer({
  config,
  logger: createLogger('warn'),
  handleSignals: true,
  load: async (state) => {
    // Small commit groups, so a test can kill this replica between two commits of one upload.
    const corpus = new CorpusAdapter(await openPgCorpus(config.storage.url!, { commitEvery: 16 }));
    await corpus.open();
    state.corpus = corpus;
    state.backend = new FakeBackend();
  },
});
await srv.ready;
process.stdout.write(`READY ${srv.url}\n`);
