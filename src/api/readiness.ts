/**
 * Loading the runtime (index, embedder, model) after the server listens, and trying again
 * when it fails: a failed load is never the final word, because the cause (a file being
 * rebuilt, a model still being copied, memory pressure) may pass. Until a load succeeds,
 * /readyz answers 503 with Retry-After set to the next attempt.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.ts';
import type { CorpusService, GenerationBackend, RuntimeState } from './deps.ts';

export type RuntimeLoader = (state: RuntimeState, log: Logger) => Promise<void>;

/** Retries back off from `retryMs`, doubling, up to this. */
const MAX_RETRY_MS = 60_000;

export interface Loading {
  /** Settles with the first attempt (rejects with its error; retries go on). */
  first: Promise<void>;
  /** Settles when no attempt is running (for shutdown). */
  settled(): Promise<void>;
  /** No more retries. */
  stop(): void;
}

export function startLoading(opts: {
  state: RuntimeState;
  load: RuntimeLoader;
  logger: Logger;
  /** First retry delay; 0 turns retrying off. */
  retryMs: number;
}): Loading {
  const { state, load, logger } = opts;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let delay = opts.retryMs;

  const attempt = (): Promise<void> => {
    const p = load(state, logger).then(
      () => {
        state.loadError = null;
        state.retryAt = null;
        logger.info('ready: model loaded, index open');
      },
      async (err: unknown) => {
        state.loadError = errorMessage(err);
        // Whatever half-loaded is closed, so the next attempt starts clean and nothing leaks.
        await closeQuietly(state.backend, logger);
        await closeQuietly(state.corpus, logger);
        state.backend = null;
        state.corpus = null;
        if (opts.retryMs > 0 && !stopped) {
          state.retryAt = Date.now() + delay;
          logger.error({ err: state.loadError, retryInMs: delay }, 'loading the runtime failed; will retry');
          timer = setTimeout(() => void (running = attempt().catch(() => undefined)), delay);
          timer.unref();
          delay = Math.min(delay * 2, MAX_RETRY_MS);
        } else {
          state.retryAt = null;
          logger.error({ err: state.loadError }, 'loading the runtime failed');
        }
        throw err;
      },
    );
    return p;
  };

  const first = attempt();
  running = first.catch(() => undefined);
  first.catch(() => undefined);
  return {
    first,
    settled: () => running,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export async function closeQuietly(
  x: GenerationBackend | CorpusService | null,
  logger: Logger,
): Promise<void> {
  try {
    await x?.close?.();
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'close failed');
  }
}
