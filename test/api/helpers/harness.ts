/**
 * Start the real server wiring (`startServer`) on 127.0.0.1 with a fresh data folder and a
 * small corpus ingested through the real pipeline (real embedder).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { CorpusAdapter } from '../../../src/api/corpus-adapter.ts';
import type { GenerationBackend } from '../../../src/api/deps.ts';
import { createLogger } from '../../../src/api/app.ts';
import { startServer, type RunningServer } from '../../../src/api/server.ts';
import { openCorpus } from '../../../src/retrieval/index.ts';
import { embedderDir } from '../../helpers/assets.ts';

/** A few short documents, written by the test, so retrieval has something to find. */
export const TEST_DOCS = [
  {
    path: 'commands/npm-ci.md',
    title: 'npm ci',
    text: '# npm ci\n\nClean install a project.\n\nThis command is similar to npm install, except it is meant to be used in automated environments such as test platforms, continuous integration, and deployment. The project must have an existing package-lock.json or npm-shrinkwrap.json. If dependencies in the package lock do not match those in package.json, npm ci will exit with an error instead of updating the package lock.\n',
  },
  {
    path: 'commands/npm-install.md',
    title: 'npm install',
    text: '# npm install\n\nInstall a package.\n\nThis command installs a package and any packages that it depends on. If the package has a package-lock, or an npm shrinkwrap file, or a yarn lock file, the installation of dependencies will be driven by that.\n',
  },
  {
    path: 'using-npm/scripts.md',
    title: 'scripts',
    text: '# scripts\n\nHow npm handles the "scripts" field.\n\nThe "scripts" property of your package.json file supports a number of built-in scripts and their preset life cycle events as well as arbitrary scripts. These all can be executed by running npm run-script <stage> or npm run <stage> for short.\n',
  },
];

const madeDirs: string[] = [];

/** Remove the temporary folders this test file made (call in afterAll, after shutdown). */
export function removeTmpDirs(): void {
  for (const d of madeDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function tmpDataDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ragspec-api-${tag}-`));
  madeDirs.push(dir);
  return dir;
}

/** Create a data folder holding the test corpus; returns its path. */
export async function makeTestCorpus(dataDir: string): Promise<void> {
  embedderDir(); // fail with the setup hint when the embedder is missing
  const corpus = new CorpusAdapter(await openCorpus(dataDir));
  await corpus.ingest(TEST_DOCS.map((d) => ({ ...d, format: 'markdown' as const })));
  await corpus.close();
}

export interface TestServerOptions {
  dataDir: string;
  backend: GenerationBackend | (() => Promise<GenerationBackend>);
  overrides?: ConfigInput;
  /** Collect log lines here (to check redaction). */
  logLines?: string[];
}

export async function startTestServer(o: TestServerOptions): Promise<RunningServer> {
  const config = loadConfig({
    env: {},
    overrides: {
      server: { host: '127.0.0.1', port: 0, ...(o.overrides?.server ?? {}) },
      storage: { dataDir: o.dataDir },
      log: { level: 'info' },
      ...withoutServer(o.overrides),
    },
  });
  const lines = o.logLines;
  const logger = createLogger('info', {
    write: (s: string) => {
      lines?.push(s);
    },
  });
  const running = await startServer({
    config,
    logger,
    load: async (state) => {
      state.corpus = new CorpusAdapter(await openCorpus(o.dataDir));
      state.backend = typeof o.backend === 'function' ? await o.backend() : o.backend;
    },
  });
  await running.ready;
  return running;
}

function withoutServer(o: ConfigInput | undefined): Omit<ConfigInput, 'server'> {
  if (!o) return {};
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { server, ...rest } = o;
  return rest;
}
