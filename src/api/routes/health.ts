/** `/healthz` (process up), `/readyz` (model loaded and index open), `/metrics`. */
import { Router } from 'express';
import type { RuntimeState } from '../deps.ts';
import { route } from '../http.ts';
import type { Metrics } from '../metrics.ts';

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
      ...(state.loadError ? { error: state.loadError } : {}),
    };
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
