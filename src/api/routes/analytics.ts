/** `GET /v1/analytics?window=…` (JSON) and `GET /analytics` (dashboard + its chart.js). */
import { Router } from 'express';
import type { GenerationRecords } from '../analytics/store.ts';
import { summarize } from '../analytics/summary.ts';
import { CHART_JS_ROUTE, chartJsFile, dashboardHtml } from '../analytics/dashboard.ts';
import { route } from '../http.ts';
import { windowMs, type Schemas } from '../schemas.ts';
import { parseWith } from '../validate.ts';

export function analyticsRoutes(store: GenerationRecords, schemas: Schemas): Router {
  const r = Router();
  const html = dashboardHtml();
  const chartFile = chartJsFile();

  r.get(
    '/v1/analytics',
    route(async (req, res) => {
      const q = parseWith(schemas.Analytics, req.query);
      const window = q.window ?? '24h';
      const ms = windowMs(window);
      const since = ms === null ? null : Date.now() - ms;
      res.json(summarize(await store.since(since ?? 0), window, since, q.recent ?? 20));
    }),
  );

  r.get(
    '/analytics',
    route((_req, res) => {
      res.type('html').send(html);
    }),
  );

  r.get(
    CHART_JS_ROUTE,
    route((_req, res) => {
      res.type('application/javascript').setHeader('Cache-Control', 'public, max-age=3600');
      res.sendFile(chartFile);
    }),
  );

  return r;
}
