/**
 * The real runtime behind the HTTP interfaces: the speculative `Engine` (target model +
 * drafters) as the `GenerationBackend`, and the on-disk corpus as the `CorpusService`.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { storageKind, type RagspecConfig } from '../config/schema.ts';
import type { Engine } from '../engine/engine.ts';
import { loadEngine, type EngineLoadOptions } from '../engine/load.ts';
import type {
  DecodeMode,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
} from '../engine/types.ts';
import { DECODE_MODES } from '../drafting/modes.ts';
import { openCorpusAt, redactUrl, type StoreTarget } from '../retrieval/index.ts';
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

/** Load the target model (and the drafter model, when one is named) from `paths.targetModel()` or `opts.model`. */
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
export async function openCorpusService(target: string | StoreTarget): Promise<CorpusAdapter> {
  const corpus = await openCorpusAt(typeof target === 'string' ? { kind: 'sqlite', dir: target } : target);
  const adapter = new CorpusAdapter(corpus);
  try {
    await adapter.open();
    return adapter;
  } catch (err) {
    await corpus.close().catch(() => undefined);
    throw err;
  }
}

/** The corpus store the config names (see `storageKind`). */
export function storeTargetOf(config: RagspecConfig): StoreTarget {
  return storageKind(config) === 'postgres'
    ? { kind: 'postgres', url: config.storage.url! }
    : { kind: 'sqlite', dir: dataDirOf(config) };
}

/** The loader `ragspec serve` uses: open the corpus (index and embedder too), then load the model. */
export function realRuntime(config: RagspecConfig, engineOpts: EngineLoadOptions = {}): RuntimeLoader {
  return async (state: RuntimeState, log: Logger) => {
    const target = storeTargetOf(config);
    state.corpus = await openCorpusService(target);
    const where = target.kind === 'postgres' ? { database: redactUrl(target.url) } : { dataDir: target.dir };
    log.info({ ...where, ...(await state.corpus.stats()) }, 'index open');
    const t0 = Date.now();
    // No usable GPU for config.model.device throws kind 'unavailable': /readyz is 503 with it.
    // The history datastore is a file beside a SQLite corpus; a PostgreSQL replica keeps no
    // local state, so it drafts without history (a shared history table is not built yet).
    const h = config.history;
    const history =
      h.enabled && target.kind === 'sqlite'
        ? { dir: target.dir, record: h.record, maxTokens: h.maxTokens }
        : undefined;
    state.backend = await loadEngineBackend({
      ...engineOpts,
      device: engineOpts.device ?? config.model.device,
      history,
    });
    log.info({ model: state.backend.modelId, ms: Date.now() - t0 }, 'model loaded');
  };
}
