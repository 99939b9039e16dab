/**
 * `createApp(deps)`: the express app, wired from interfaces only (runtime state, analytics
 * store, config), so tests and `ragspec serve` build the same thing. Order matters:
 * metrics/logging → draining gate → host, key and origin guards → content-type gate → body
 * parser → routes → 404/405 →
 * the one error handler that renders every failure as the OpenAI error envelope.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import pino, { type Logger } from 'pino';
import type { RagspecConfig } from '../config/schema.ts';
import type { GenerationRecords } from './analytics/store.ts';
import type { RuntimeState } from './deps.ts';
import {
  MethodNotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
  toApiError,
} from './errors.ts';
import { hostGuard, originGuard, requireKey } from './guards.ts';
import { Metrics } from './metrics.ts';
import { safeEnvelope } from './safe-message.ts';
import { QaService } from './qa-service.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { documentRoutes } from './routes/documents.ts';
import { generateRoutes } from './routes/generate.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { limitsFrom, makeSchemas } from './schemas.ts';
import { ClientClosedError, ModelWorker } from './worker.ts';

export interface AppDeps {
  config: RagspecConfig;
  state: RuntimeState;
  analytics: GenerationRecords;
  logger?: Logger;
}

export interface RagspecApp {
  app: express.Express;
  worker: ModelWorker;
  /** The queue document writes wait in. */
  writes: ModelWorker;
  metrics: Metrics;
  service: QaService;
  state: RuntimeState;
  logger: Logger;
}

/** Paths and the methods they answer, for 405 instead of 404 on a wrong method. */
const KNOWN_PATHS: [RegExp, string[]][] = [
  [/^\/v1\/answer$/, ['POST']],
  [/^\/v1\/chat\/completions$/, ['POST']],
  [/^\/v1\/models(\/[^/]+)?$/, ['GET']],
  [/^\/v1\/documents$/, ['GET', 'POST']],
  [/^\/v1\/documents\/[^/]+$/, ['GET', 'DELETE']],
  [/^\/v1\/analytics$/, ['GET']],
  [/^\/(analytics|healthz|readyz|metrics)$/, ['GET']],
];

/** Always answer, even while draining, so orchestrators can watch the shutdown. */
const ALWAYS_OPEN = new Set(['/healthz', '/readyz', '/metrics']);

/** pino with the Authorization header (and cookies) redacted wherever a request is logged. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: { service: 'ragspec' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(opts, destination) : pino(opts);
}

/**
 * Headers worth a log line. An allow-list, not a deny-list: proxies and clients add headers
 * that carry secrets under names nobody can list in advance (x-api-key, x-amz-security-token …).
 */
const LOGGED_HEADERS = [
  'host',
  'user-agent',
  'content-type',
  'content-length',
  'accept',
  'origin',
  'x-request-id',
];

function loggedHeaders(req: Request): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const h of LOGGED_HEADERS) {
    const v = req.headers[h];
    if (v !== undefined) out[h] = v;
  }
  return out;
}

/** Route label for metrics: the matched pattern, never the raw URL (ids would explode cardinality). */
function routeLabel(req: Request): string {
  const p = req.route?.path;
  if (typeof p === 'string') return (req.baseUrl ?? '') + p;
  return 'unmatched';
}

export function createApp(deps: AppDeps): RagspecApp {
  const { config, state, analytics } = deps;
  const logger = deps.logger ?? createLogger(config.log.level);
  const metrics = new Metrics();
  const worker = new ModelWorker({
    queueSize: config.server.queueSize,
    timeoutMs: config.server.requestTimeoutMs,
    metrics,
    // Continuous batching: as many generations at once as the loaded engine batches.
    concurrency: () => state.backend?.concurrency ?? 1,
  });
  // Uploads take the write lock and embed: they queue too, under the same timeout rules.
  const writes = new ModelWorker({
    queueSize: config.server.ingestQueueSize,
    timeoutMs: config.server.requestTimeoutMs,
    timeoutWaitOnly: true,
  });
  const service = new QaService({ state, worker, metrics, analytics, config });
  const schemas = makeSchemas(limitsFrom(config));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c

  app.use((req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on('close', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const label = routeLabel(req);
      metrics.httpRequests.inc({ method: req.method, route: label, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route: label }, seconds);
      logger.info(
        {
          req: { method: req.method, url: req.originalUrl, headers: loggedHeaders(req) },
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
        },
        'request',
      );
    });
    next();
  });

  app.use((req, _res, next) => {
    if (state.draining && !ALWAYS_OPEN.has(req.path)) {
      metrics.rejected.inc({ reason: 'draining' });
      return next(
        new ServiceUnavailableError(
          'server is shutting down — retry on another instance',
          'shutting_down',
          5,
        ),
      );
    }
    next();
  });

  // Who may ask, decided before a single body byte is read (guards.ts).
  app.use(hostGuard(config.server.host));
  app.use(requireKey(config.server.apiKey));
  app.use(originGuard);

  // Bodies: JSON everywhere; plain text too for document uploads. Anything else is 415.
  app.use((req, _res, next) => {
    if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') return next();
    const ct = req.headers['content-type'];
    if (!ct) return next();
    const textOk = req.path === '/v1/documents' && req.is('text/*');
    if (!req.is('application/json') && !textOk) return next(new UnsupportedMediaTypeError(ct.split(';')[0]!));
    next();
  });
  app.use(express.json({ limit: config.server.bodyLimit, strict: false }));
  app.use(express.text({ limit: config.server.bodyLimit, type: 'text/*' }));

  app.use(healthRoutes(state, metrics));
  app.use(modelRoutes(service));
  app.use(generateRoutes(service, schemas, logger));
  app.use(documentRoutes(state, schemas, writes));
  app.use(analyticsRoutes(analytics, schemas));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    const known = KNOWN_PATHS.find(([re]) => re.test(req.path));
    if (known && !known[1].includes(req.method)) return next(new MethodNotAllowedError(req.method, req.path));
    next(new NotFoundError(`no route ${req.method} ${req.path}`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ClientClosedError) {
      // Nobody is listening; 499 (nginx's "client closed request") keeps it out of the 5xx count.
      res.statusCode = 499;
      res.end();
      return;
    }
    const apiErr = toApiError(err);
    const body = safeEnvelope(apiErr);
    if (apiErr.status >= 500) logger.error({ err, url: req.originalUrl }, 'request failed');
    else if (body.error.message !== apiErr.message)
      logger.warn({ err: apiErr.message, url: req.originalUrl }, 'request refused'); // the unredacted text
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(apiErr.headers)) res.setHeader(k, v);
    if (apiErr.status === 405) {
      const known = KNOWN_PATHS.find(([re]) => re.test(req.path));
      if (known) res.setHeader('Allow', known[1].join(', '));
    }
    res.status(apiErr.status).json(body);
  });

  return { app, worker, writes, metrics, service, state, logger };
}
