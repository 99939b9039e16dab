/**
 * `POST /v1/answer` and `POST /v1/chat/completions`, each JSON or SSE. Handlers only parse,
 * call the QA service and format; the service owns retrieval, checks and the worker.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import type { GenerationOutcome, PreparedGeneration, QaService } from '../qa-service.ts';
import { toApiError } from '../errors.ts';
import { safeEnvelope } from '../safe-message.ts';
import {
  answerBody,
  chatChunk,
  chatCompletion,
  openaiFinishReason,
  usageChunk,
  usageOf,
  type ChatIds,
} from '../format.ts';
import { disconnectSignal, route } from '../http.ts';
import type { Schemas } from '../schemas.ts';
import { SseWriter } from '../sse.ts';
import { ClientClosedError } from '../worker.ts';
import type { Logger } from 'pino';
import { parseBody } from '../validate.ts';

interface StreamHandlers {
  onStart(sse: SseWriter): void;
  onText(sse: SseWriter, delta: string): void;
  onDone(sse: SseWriter, outcome: GenerationOutcome): void;
}

/**
 * Run a prepared generation as an SSE stream. Headers go out when the worker starts the
 * job, so a full queue or a timeout while waiting still gets a proper 429/504 status.
 * Once streaming, a failure becomes one `data: {"error": ...}` event.
 */
async function streamRun(
  service: QaService,
  prep: PreparedGeneration,
  res: Response,
  signal: AbortSignal,
  h: StreamHandlers,
  log: Logger,
): Promise<void> {
  const sse = new SseWriter(res);
  let started = false;
  try {
    const outcome = await service.run(prep, {
      signal,
      onStart: () => {
        started = true;
        sse.open();
        h.onStart(sse);
      },
      onText: (d) => h.onText(sse, d),
    });
    h.onDone(sse, outcome);
    sse.done();
  } catch (err) {
    if (err instanceof ClientClosedError) return; // nobody is listening any more
    if (!started) throw err;
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) log.error({ err }, 'stream failed');
    sse.send(safeEnvelope(apiErr));
    sse.end();
  }
}

export function generateRoutes(service: QaService, schemas: Schemas, log: Logger): Router {
  const r = Router();

  r.post(
    '/v1/answer',
    route(async (req, res) => {
      // Watch for the client leaving from the start: retrieval may take a while.
      const signal = disconnectSignal(res);
      const body = parseBody(schemas.Answer, req.body);
      const prep = await service.prepareAnswer(body);
      const mode = prep.request.mode;
      if (!body.stream) {
        const out = await service.run(prep, { signal });
        res.json(answerBody(out, mode, prep.id));
        return;
      }
      await streamRun(
        service,
        prep,
        res,
        signal,
        {
          onStart: (sse) => sse.send({ type: 'start', id: prep.id, mode, passages: prep.passages.length }),
          onText: (sse, delta) => sse.send({ type: 'delta', text: delta }),
          onDone: (sse, out) => sse.send({ type: 'done', ...answerBody(out, mode, prep.id) }),
        },
        log,
      );
    }),
  );

  r.post(
    '/v1/chat/completions',
    route(async (req, res) => {
      const signal = disconnectSignal(res);
      const body = parseBody(schemas.Chat, req.body);
      const prep = await service.prepareChat(body);
      const ids: ChatIds = {
        id: `chatcmpl-${randomUUID().replace(/-/g, '')}`,
        created: Math.floor(Date.now() / 1000),
        model: body.model,
      };
      const mode = prep.request.mode;
      if (!body.stream) {
        const out = await service.run(prep, { signal });
        res.json(chatCompletion(ids, out, mode));
        return;
      }
      const includeUsage = body.stream_options?.include_usage === true;
      await streamRun(
        service,
        prep,
        res,
        signal,
        {
          onStart: (sse) => sse.send(chatChunk(ids, { role: 'assistant', content: '' }, null, includeUsage)),
          onText: (sse, delta) => {
            if (delta.length > 0) sse.send(chatChunk(ids, { content: delta }, null, includeUsage));
          },
          onDone: (sse, out) => {
            sse.send(chatChunk(ids, {}, openaiFinishReason(out.result.finishReason), includeUsage));
            if (includeUsage) sse.send(usageChunk(ids, usageOf(out.result.stats)));
          },
        },
        log,
      );
    }),
  );

  return r;
}
