/** `/healthz` (process up), `/readyz` (model loaded and index open), `/metrics`. */
import { Router } from 'express';
import type { RuntimeState } from '../deps.ts';
import { route } from '../http.ts';
import type { Metrics } from '../metrics.ts';
import { safeMessage } from '../safe-message.ts';

/** Seconds until the next load attempt when one is scheduled, else a short poll. */
function retryAfterSeconds(state: RuntimeState): number {
  if (state.retryAt) return Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  return 5;
}

export function healthRoutes(state: RuntimeState, metrics: Metrics): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', (_req, res) => {
    const ready = state.backend !== null && state.corpus !== null && !state.draining;
    const body = {
      status: state.draining ? 'draining' : ready ? 'ready' : state.loadError ? 'failed' : 'loading',
      model: state.backend !== null,
      index: state.corpus !== null,
      // The log has the full text; the client gets it without paths or pids.
      ...(state.loadError && !ready ? { error: safeMessage(state.loadError) } : {}),
    };
    if (!ready) res.setHeader('Retry-After', String(retryAfterSeconds(state)));
    res.status(ready ? 200 : 503).json(body);
  });
  r.get(
    '/metrics',
    route(async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    }),
  );
  return r;
}
