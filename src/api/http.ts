/** Small express helpers shared by the routes. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Forward a rejected promise to the error handler (the one place errors become JSON). */
export function route(fn: (req: Request, res: Response) => Promise<unknown> | unknown): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

/** An AbortSignal that fires when the client goes away before the response is finished. */
export function disconnectSignal(res: Response): AbortSignal {
  const ctrl = new AbortController();
  if (res.destroyed || res.req.socket?.destroyed) ctrl.abort();
  res.on('close', () => {
    if (!res.writableFinished) ctrl.abort();
  });
  return ctrl.signal;
}
