/** `GET /v1/models` (public): the target model under its own id and the alias `ragspec`. */
import { Router } from 'express';
import { NotFoundError } from '../errors.ts';
import { route } from '../http.ts';
import type { QaService } from '../qa-service.ts';

const CREATED = 1_730_000_000; // fixed: the model is not "created" by this server

export function modelRoutes(service: QaService): Router {
  const r = Router();
  const entry = (id: string) => ({ id, object: 'model' as const, created: CREATED, owned_by: 'ragspec' });
  r.get(
    '/v1/models',
    route((_req, res) => {
      res.json({ object: 'list', data: service.modelIds().map(entry) });
    }),
  );
  r.get(
    '/v1/models/:id',
    route((req, res) => {
      const id = String(req.params.id);
      if (!service.modelIds().includes(id)) throw new NotFoundError(`model "${id}" does not exist`, 'model');
      res.json(entry(id));
    }),
  );
  return r;
}
