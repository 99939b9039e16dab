/**
 * Process lifecycle around the app: listen first (so /healthz answers while the model
 * loads), load the runtime in the background (/readyz turns 200 when it is in), and on
 * SIGTERM/SIGINT drain: refuse new work with 503, let in-flight generations finish for up
 * to the grace period, then cancel what is left, close everything and resolve.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { storageKind, type RagspecConfig } from '../config/schema.ts';
import { paths } from '../util/paths.ts';
import { errorMessage } from '../util/errors.ts';
import { PgAnalyticsStore } from './analytics/pg-store.ts';
import { AnalyticsStore, type GenerationRecords } from './analytics/store.ts';
import { createApp, createLogger, type RagspecApp } from './app.ts';
import type { RuntimeState } from './deps.ts';
import { closeQuietly, startLoading, type RuntimeLoader } from './readiness.ts';

export const ANALYTICS_FILE = 'analytics.sqlite';

export function dataDirOf(config: RagspecConfig): string {
  return path.resolve(config.storage.dataDir ?? paths.data());
}

export type { RuntimeLoader };

/**
 * Per-process SQLite file in the data folder, or, with the PostgreSQL store, the shared
 * table every replica writes to (so nothing a replica needs lives on its local disk).
 */
async function openAnalytics(config: RagspecConfig, logger: Logger): Promise<GenerationRecords> {
  if (storageKind(config) === 'postgres') return PgAnalyticsStore.open(config.storage.url!, { log: logger });
  return new AnalyticsStore(path.join(dataDirOf(config), ANALYTICS_FILE), { log: logger });
}

export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  api: RagspecApp;
  state: RuntimeState;
  /** Settles when the first load attempt is done (rejects with its error; retries go on). */
  ready: Promise<void>;
  /** Drain and close; idempotent. */
  shutdown(reason?: string): Promise<void>;
}

export interface StartOptions {
  config: RagspecConfig;
  load: RuntimeLoader;
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that drain and then exit the process (the CLI does). */
  handleSignals?: boolean;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config.log.level);
  const state: RuntimeState = {
    backend: null,
    corpus: null,
    draining: false,
    loadError: null,
    retryAt: null,
  };
  const analytics = await openAnalytics(config, logger);
  const api = createApp({ config, state, analytics, logger });

  const { headersTimeoutMs, bodyTimeoutMs, maxConnections } = config.server;
  const server = http.createServer(
    // How often Node checks the two timeouts below; its default (30 s) would let a short
    // timeout run up to 30 s late.
    { connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeoutMs / 4))) },
    api.app,
  );
  // Receiving the request (headers, then body) is bounded, so slow clients cannot hold a
  // socket forever. Sending the response is not: generations stream for as long as they
  // run, and the worker's per-request timeout bounds them.
  server.headersTimeout = Math.min(headersTimeoutMs, bodyTimeoutMs);
  server.requestTimeout = bodyTimeoutMs;
  server.maxConnections = maxConnections;
  // Idle keep-alive sockets outlive the clients' own idle timeouts (undici: 4 s, most load
  // balancers: 60 s), so the server is never the side that closes a socket a client is
  // about to reuse (which the client would see as ECONNRESET).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url }, 'listening');

  const loading = startLoading({ state, load: opts.load, logger, retryMs: config.server.loadRetryMs });
  const ready = loading.first;

  let closing: Promise<void> | null = null;
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    closing ??= (async () => {
      logger.info({ reason, inFlight: api.worker.busy, queued: api.worker.depth }, 'draining');
      state.draining = true;
      api.worker.close();
      api.writes.close();
      const grace = config.server.shutdownGraceMs;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.all([api.worker.idle(), api.writes.idle()]).then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
      ]);
      clearTimeout(timer);
      if (timedOut) logger.warn({ graceMs: grace }, 'grace period over; closing open connections');
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
        if (timedOut) server.closeAllConnections();
        // Streams still open after the grace period are cut; their generations abort on close.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      loading.stop();
      await loading.settled();
      await api.worker.idle();
      await api.writes.idle();
      await closeQuietly(state.backend, logger);
      await closeQuietly(state.corpus, logger);
      await analytics.close();
      logger.info('stopped');
    })();
    return closing;
  };

  if (opts.handleSignals) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        void shutdown(sig).then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err: errorMessage(err) }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  }

  return { url, port, server, api, state, ready, shutdown };
}
