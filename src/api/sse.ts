/**
 * Server-Sent Events with the exact framing OpenAI clients parse: every event is one
 * `data: <json>` line followed by a blank line, and the stream ends with `data: [DONE]`.
 * JSON.stringify never emits a raw newline, so one event is always one line.
 */
import type { Response } from 'express';

export class SseWriter {
  private ended = false;

  constructor(private readonly res: Response) {}

  /** Send the headers now so the client sees the stream open before the first token. */
  open(): void {
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
  }

  get closed(): boolean {
    return this.ended || this.res.writableEnded || this.res.destroyed;
  }

  send(payload: unknown): void {
    if (this.closed) return;
    this.res.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  done(): void {
    if (this.closed) return;
    this.res.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.res.end();
  }
}
