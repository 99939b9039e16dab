/**
 * Documents over HTTP: ingest (JSON or a text body), list, get, delete — through the same
 * pipeline as `ragspec ingest`. A document `path` is a name inside the store, validated by
 * `DocPath`; nothing from a request is ever joined onto a filesystem path.
 */
import { Router } from 'express';
import type { CorpusService, DocumentUpload, RuntimeState } from '../deps.ts';
import { BadRequestError, NotFoundError, ServiceUnavailableError } from '../errors.ts';
import { disconnectSignal, route } from '../http.ts';
import type { ModelWorker } from '../worker.ts';
import { DocId, DocPath, type Schemas } from '../schemas.ts';
import { parseBody, parseWith } from '../validate.ts';
import { z } from 'zod';

const TextQuery = z.strictObject({
  path: DocPath,
  title: z.string().max(512).optional(),
  format: z.enum(['markdown', 'text']).optional(),
});

/**
 * `writes` is the bounded queue uploads and deletes wait in (one writer per data folder):
 * a full queue is 429 at once, a wait past the request timeout is 504, as for generations.
 * A write that has started runs to its commit, so the store never holds half an upload.
 */
export function documentRoutes(state: RuntimeState, schemas: Schemas, writes: ModelWorker): Router {
  const r = Router();
  const corpus = (): CorpusService => {
    if (!state.corpus)
      throw new ServiceUnavailableError(
        'the index is still opening — retry when /readyz answers 200',
        'not_ready',
        5,
      );
    return state.corpus;
  };

  r.post(
    '/v1/documents',
    route(async (req, res) => {
      let docs: DocumentUpload[];
      if (req.is('text/*')) {
        // Raw text body: metadata in the query string.
        const q = parseWith(TextQuery, req.query);
        if (typeof req.body !== 'string' || req.body.length === 0)
          throw new BadRequestError('the text body is empty', 'body');
        docs = [{ path: q.path, text: req.body, title: q.title, format: q.format ?? 'text' }];
      } else {
        const body = parseBody(schemas.Documents, req.body);
        docs = 'documents' in body ? body.documents : [body];
      }
      const seen = new Set<string>();
      for (const d of docs) {
        if (seen.has(d.path))
          throw new BadRequestError(`path "${d.path}" appears twice in one request`, 'path');
        seen.add(d.path);
      }
      const store = corpus();
      const out = await writes.run(() => store.ingest(docs), disconnectSignal(res));
      res.status(201).json({ object: 'ingest_result', ...out });
    }),
  );

  r.get(
    '/v1/documents',
    route(async (req, res) => {
      const q = parseWith(schemas.DocumentList, req.query);
      const { documents, total } = await corpus().list({
        limit: q.limit ?? 100,
        offset: q.offset ?? 0,
        prefix: q.prefix,
      });
      res.json({ object: 'list', data: documents, total });
    }),
  );

  r.get(
    '/v1/documents/:id',
    route(async (req, res) => {
      const id = parseWith(DocId, req.params.id, 'id');
      const doc = await corpus().get(id);
      if (!doc) throw new NotFoundError(`no document with id "${id}"`, 'id');
      res.json(doc);
    }),
  );

  r.delete(
    '/v1/documents/:id',
    route(async (req, res) => {
      const id = parseWith(DocId, req.params.id, 'id');
      const store = corpus();
      if (!(await writes.run(() => store.remove(id), disconnectSignal(res))))
        throw new NotFoundError(`no document with id "${id}"`, 'id');
      res.json({ id, object: 'document', deleted: true });
    }),
  );

  return r;
}
