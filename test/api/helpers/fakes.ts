/**
 * Test doubles for app-level tests that need neither the real model nor the embedder: a
 * backend that answers a fixed text, a corpus kept in memory, and `fakeApp` wiring them into
 * `createApp` with a real analytics store in a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsStore } from '../../../src/api/analytics/store.ts';
import { createApp, createLogger, type RagspecApp } from '../../../src/api/app.ts';
import type {
  CorpusService,
  DocumentDetail,
  DocumentUpload,
  GenerationBackend,
  IngestOutcome,
  RuntimeState,
} from '../../../src/api/deps.ts';
import { startServer, type RunningServer, type RuntimeLoader } from '../../../src/api/server.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { GenerationRequest, GenerationResult, GenerationStats } from '../../../src/engine/types.ts';
import type { DocumentInfo, ScoredPassage } from '../../../src/retrieval/types.ts';

export function fakeStats(completionTokens = 2): GenerationStats {
  return {
    promptTokens: 3,
    completionTokens,
    steps: completionTokens,
    drafts: 0,
    draftTokens: 0,
    acceptedTokens: 0,
    bySource: {},
    acceptedPerPosition: [],
    acceptanceLengths: [0, completionTokens],
    treeSizes: [],
    tokensPerStep: 1,
    meanAcceptanceLength: 1,
    timeMs: { total: 1, prefill: 0, draft: 0, verify: 0, other: 1 },
    decodeTokensPerSecond: 1000,
  };
}

/** Answers "ok." to everything; counts prompt tokens as characters / 4. */
export class FakeBackend implements GenerationBackend {
  readonly modelId = 'fake-model';
  readonly contextLength = 2048;
  readonly modes = ['ar', 'reference', 'hybrid'] as const;
  generated = 0;
  countPromptTokens(req: GenerationRequest): number {
    const text = (req.messages ?? []).map((m) => m.content).join('') + (req.prompt ?? '');
    return Math.ceil(text.length / 4) + 1;
  }
  async generate(): Promise<GenerationResult> {
    this.generated++;
    return { text: 'ok.', tokens: [1, 2], finishReason: 'stop', copiedSpans: [], stats: fakeStats() };
  }
}

/** Documents in a map; search returns nothing but records the queries it was asked. */
export class FakeCorpus implements CorpusService {
  readonly docs = new Map<string, DocumentDetail>();
  readonly queries: string[] = [];
  ingested = 0;
  async search(query: string): Promise<ScoredPassage[]> {
    this.queries.push(query);
    return [];
  }
  async ingest(docs: DocumentUpload[]): Promise<IngestOutcome> {
    this.ingested += docs.length;
    const documents: DocumentInfo[] = docs.map((d) => ({
      id: `a-${d.path.replace(/[^A-Za-z0-9]/g, '')}`,
      path: d.path,
      title: d.title ?? d.path,
      passages: 1,
      contentHash: 'x',
      updatedAt: new Date(0).toISOString(),
    }));
    for (const [i, d] of documents.entries()) this.docs.set(d.id, { ...d, text: docs[i]!.text });
    return { documents, added: docs.length, updated: 0, unchanged: 0, passages: docs.length };
  }
  async list() {
    const all = [...this.docs.values()];
    return { documents: all, total: all.length };
  }
  async get(id: string) {
    return this.docs.get(id) ?? null;
  }
  async remove(id: string) {
    return this.docs.delete(id);
  }
  async stats() {
    return { documents: this.docs.size, passages: this.docs.size };
  }
}

const made: string[] = [];

export function fakeDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-fake-'));
  made.push(dir);
  return dir;
}

export function removeFakeDirs(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface FakeApp extends RagspecApp {
  backend: FakeBackend;
  corpus: FakeCorpus;
  analytics: AnalyticsStore;
  logLines: string[];
}

/** `createApp` over the fakes, loaded (backend and corpus set). */
export function fakeApp(overrides: ConfigInput = {}, opts: { analytics?: AnalyticsStore } = {}): FakeApp {
  const dataDir = fakeDataDir();
  const config = loadConfig({
    env: {},
    overrides: { ...overrides, storage: { dataDir }, log: { level: 'info' } },
  });
  const backend = new FakeBackend();
  const corpus = new FakeCorpus();
  const state: RuntimeState = { backend, corpus, draining: false, loadError: null };
  const logLines: string[] = [];
  const logger = createLogger('info', { write: (s: string) => void logLines.push(s) });
  const analytics =
    opts.analytics ?? new AnalyticsStore(path.join(dataDir, 'analytics.sqlite'), { log: logger });
  const api = createApp({ config, state, analytics, logger });
  return { ...api, backend, corpus, analytics, logLines };
}

/** The real `startServer` (listening on 127.0.0.1, port 0) over the fakes, or over `load`. */
export async function startFakeServer(
  overrides: ConfigInput = {},
  load?: RuntimeLoader,
  logLines: string[] = [],
): Promise<RunningServer> {
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      server: { host: '127.0.0.1', port: 0, ...(overrides.server ?? {}) },
      storage: { dataDir: fakeDataDir() },
      log: { level: 'info' },
    },
  });
  const logger = createLogger('info', { write: (s: string) => void logLines.push(s) });
  return startServer({
    config,
    logger,
    load:
      load ??
      (async (state) => {
        state.corpus = new FakeCorpus();
        state.backend = new FakeBackend();
      }),
  });
}
