/** Read a whole SSE response as raw bytes over plain node:http (no client-side parsing). */
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function rawPost(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      `${url}${path}`,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(data),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Split an SSE body, insisting on the exact framing: only `data: <payload>` lines, each
 * followed by one blank line, nothing else, ending with `data: [DONE]`.
 */
export function parseStrictSse(body: string): { events: unknown[]; done: boolean } {
  if (!/^(data: [^\r\n]+\n\n)+$/.test(body))
    throw new Error(`SSE framing broken: ${JSON.stringify(body.slice(0, 300))}`);
  const payloads = body
    .slice(0, -2)
    .split('\n\n')
    .map((l) => l.slice('data: '.length));
  const done = payloads[payloads.length - 1] === '[DONE]';
  const events = (done ? payloads.slice(0, -1) : payloads).map((p) => JSON.parse(p) as unknown);
  return { events, done };
}
