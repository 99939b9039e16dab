/**
 * The PostgreSQL test helper fails loudly, naming how to install PostgreSQL, when the server
 * it was pointed at cannot be reached — it never turns into a skipped test.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { INSTALL_HINT, startTestPostgres } from '../helpers/postgres.ts';

const saved = process.env.RAGSPEC_TEST_DATABASE_URL;
afterEach(() => {
  if (saved === undefined) delete process.env.RAGSPEC_TEST_DATABASE_URL;
  else process.env.RAGSPEC_TEST_DATABASE_URL = saved;
});

describe('test/helpers/postgres.ts', () => {
  it('an unreachable RAGSPEC_TEST_DATABASE_URL is an error that says how to install PostgreSQL', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    process.env.RAGSPEC_TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const pg = await startTestPostgres();
    await expect(pg.createDatabase()).rejects.toThrow(INSTALL_HINT);
    expect(INSTALL_HINT).toMatch(/apt-get install postgresql-15/);
  });
});
