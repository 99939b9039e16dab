/**
 * What the HTTP layer needs from the rest of ragspec, as interfaces. Routes and services
 * depend on these only; `runtime.ts` adapts the real engine and corpus onto them.
 */
import type {
  DecodeMode,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
} from '../engine/types.ts';
import type { DocumentInfo, ScoredPassage, SearchOptions } from '../retrieval/types.ts';

/** The loaded target model plus its generation loop. */
export interface GenerationBackend {
  /** The id `/v1/models` lists and chat completions echo. */
  readonly modelId: string;
  /** Context window of the target in tokens. */
  readonly contextLength: number;
  /** Decode modes this backend can run (`model` needs a drafter model). */
  readonly modes: readonly DecodeMode[];
  /** Number of prompt tokens `req` renders to (chat template applied). */
  countPromptTokens(req: GenerationRequest): number;
  /** Must honour `callbacks.signal` within one step, prefill included. */
  generate(req: GenerationRequest, callbacks: GenerationCallbacks): Promise<GenerationResult>;
  /** Generations it runs at once (continuous batching); absent: 1. */
  readonly concurrency?: number;
  /** Subscribe to every batched step (requests, rows, forwards), for metrics. */
  onBatchStep?(listener: (t: { requests: number; rows: number; forwards: number }) => void): void;
  close?(): Promise<void>;
}

/** A document to ingest over HTTP. `path` is a name in the store, never a filesystem path. */
export interface DocumentUpload {
  path: string;
  text: string;
  title?: string;
  format?: 'markdown' | 'text';
}

export interface IngestOutcome {
  documents: DocumentInfo[];
  added: number;
  updated: number;
  unchanged: number;
  passages: number;
}

export interface DocumentDetail extends DocumentInfo {
  text?: string;
}

/** Document and passage counts the HTTP layer reports (retrieval's `CorpusStats` is the fuller on-disk view). */
export interface CorpusCounts {
  documents: number;
  passages: number;
}

/** The open document store + index. */
export interface CorpusService {
  search(query: string, opts: SearchOptions): Promise<ScoredPassage[]>;
  ingest(docs: DocumentUpload[]): Promise<IngestOutcome>;
  list(opts: {
    limit: number;
    offset: number;
    prefix?: string;
  }): Promise<{ documents: DocumentInfo[]; total: number }>;
  get(id: string): Promise<DocumentDetail | null>;
  remove(id: string): Promise<boolean>;
  stats(): Promise<CorpusCounts>;
  close?(): Promise<void>;
}

/**
 * Mutable readiness: the server starts listening (healthz) before the model and index are
 * loaded; /readyz and every model route answer 503 until both are set.
 */
export interface RuntimeState {
  backend: GenerationBackend | null;
  corpus: CorpusService | null;
  /** Set on SIGTERM: new requests get 503. */
  draining: boolean;
  /** Why loading failed, if it did (for the log; /readyz shows it made safe). */
  loadError: string | null;
  /** When the next load attempt runs (ms since epoch), while one is pending. */
  retryAt?: number | null;
}
