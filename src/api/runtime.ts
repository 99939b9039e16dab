/**
 * The real runtime behind the HTTP interfaces: the speculative `Engine` (target model +
 * drafters) as the `GenerationBackend`, and the on-disk corpus as the `CorpusService`.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { RagspecConfig } from '../config/schema.ts';
import type { Engine } from '../engine/engine.ts';
import { loadEngine, type EngineLoadOptions } from '../engine/load.ts';
import type {
  DecodeMode,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
} from '../engine/types.ts';
import { DECODE_MODES } from '../drafting/modes.ts';
import { openCorpus } from '../retrieval/index.ts';
import { paths } from '../util/paths.ts';
import { CorpusAdapter } from './corpus-adapter.ts';
import type { GenerationBackend, RuntimeState } from './deps.ts';
import { dataDirOf, type RuntimeLoader } from './server.ts';

export class EngineBackend implements GenerationBackend {
  constructor(
    readonly engine: Engine,
    readonly modelId: string,
  ) {}

  get modes(): readonly DecodeMode[] {
    return DECODE_MODES.filter((m) => m !== 'model' || this.engine.drafter !== null);
  }

  get contextLength(): number {
    return this.engine.target.config.contextLength;
  }

  countPromptTokens(req: GenerationRequest): number {
    return this.engine.promptTokens(req).length;
  }

  generate(req: GenerationRequest, callbacks: GenerationCallbacks): Promise<GenerationResult> {
    return this.engine.generate(req, callbacks);
  }

  get concurrency(): number {
    return this.engine.concurrency;
  }

  onBatchStep(listener: (t: { requests: number; rows: number; forwards: number }) => void): void {
    this.engine.tickListeners.push(listener);
  }

  close(): Promise<void> {
    return this.engine.dispose();
  }
}

/** Load the target model (and its self-drafter) from `paths.targetModel()` or `opts.model`. */
export async function loadEngineBackend(opts: EngineLoadOptions = {}): Promise<EngineBackend> {
  const dir = opts.model ?? paths.targetModel();
  const engine = await loadEngine(opts);
  return new EngineBackend(engine, path.basename(dir));
}

/**
 * Open the corpus and load what its first query would: the committed vector index and the
 * embedder. /readyz is only 200 after this, so "ready" means a query will work, and a
 * damaged index or a missing embedder shows up as 503 at startup, not on a user's query.
 */
export async function openCorpusService(dir: string): Promise<CorpusAdapter> {
  const corpus = await openCorpus(dir);
  const adapter = new CorpusAdapter(corpus);
  try {
    await adapter.open();
    return adapter;
  } catch (err) {
    await corpus.close().catch(() => undefined);
    throw err;
  }
}

/** The loader `ragspec serve` uses: open the corpus (index and embedder too), then load the model. */
export function realRuntime(config: RagspecConfig, engineOpts: EngineLoadOptions = {}): RuntimeLoader {
  return async (state: RuntimeState, log: Logger) => {
    const dir = dataDirOf(config);
    state.corpus = await openCorpusService(dir);
    log.info({ dataDir: dir, ...(await state.corpus.stats()) }, 'index open');
    const t0 = Date.now();
    state.backend = await loadEngineBackend(engineOpts);
    log.info({ model: state.backend.modelId, ms: Date.now() - t0 }, 'model loaded');
  };
}
