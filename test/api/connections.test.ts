/**
 * Finding 5 (connections can be held forever): a client that never finishes its headers or
 * its body is cut after the configured timeout, and connections past the cap are closed.
 * No timing is asserted: each test only waits for the server to act.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { removeFakeDirs, startFakeServer } from './helpers/fakes.ts';

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.shutdown('test done');
  removeFakeDirs();
});

/** Connect, write `data`, and resolve with whatever the server sent once it closes the socket. */
function holdOpen(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data));
    let got = '';
    sock.on('data', (c) => (got += c.toString()));
    sock.on('close', () => resolve(got));
    sock.on('error', () => undefined);
    setTimeout(() => reject(new Error('the server never closed the stalled connection')), 20_000).unref();
  });
}

describe('request timeouts', () => {
  it('cuts a client that sends half its body and stalls (408)', async () => {
    const srv = await startFakeServer({ server: { headersTimeoutMs: 300, bodyTimeoutMs: 600 } });
    servers.push(srv);
    const got = await holdOpen(
      srv.port,
      'POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"question": "wh',
    );
    expect(got).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts a client that never finishes its headers (408)', async () => {
    const srv = await startFakeServer({ server: { headersTimeoutMs: 300, bodyTimeoutMs: 600 } });
    servers.push(srv);
    const got = await holdOpen(srv.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a');
    expect(got).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('connection cap', () => {
  it('closes connections beyond server.maxConnections and keeps serving the rest', async () => {
    const srv = await startFakeServer({ server: { maxConnections: 2 } });
    servers.push(srv);
    const open = async () => {
      const s = net.connect(srv.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      return s;
    };
    const a = await open();
    const b = await open();
    const c = await open();
    const closedC = new Promise<void>((r) => c.once('close', () => r()));
    c.on('error', () => undefined);
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await closedC; // the third one is dropped by the server
    const answer = new Promise<string>((r) => a.once('data', (d) => r(d.toString())));
    a.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    a.destroy();
    b.destroy();
  });
});
