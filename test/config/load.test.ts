/** loadConfig: defaults → file → env → flags, zod-validated, unknown keys refused by name. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { RagspecError } from '../../src/util/errors.ts';

function writeJson(obj: unknown): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-cfg-')), 'ragspec.json');
  fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return f;
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RagspecError);
    return (e as RagspecError).oneLine();
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('has documented defaults: loopback, 8080, no key, hybrid', () => {
    const c = loadConfig({ env: {} });
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080, apiKey: null, queueSize: 8 });
    expect(c.generation.mode).toBe('hybrid');
    expect(c.storage.dataDir).toBeNull();
  });

  it('merges file, then env, then flags, later layers winning', () => {
    const file = writeJson({
      server: { port: 9001, queueSize: 3 },
      generation: { mode: 'ar' },
      log: { level: 'warn' },
    });
    const c = loadConfig({
      file,
      env: { RAGSPEC_PORT: '9002', RAGSPEC_MODE: 'reference' },
      flags: { port: '9003' },
    });
    expect(c.server.port).toBe(9003); // flag
    expect(c.generation.mode).toBe('reference'); // env over file
    expect(c.server.queueSize).toBe(3); // file over default
    expect(c.log.level).toBe('warn');
    expect(c.server.host).toBe('127.0.0.1'); // default
  });

  it('refuses unknown keys, naming them and the file', () => {
    const file = writeJson({ server: { prot: 1 }, colour: 'blue' });
    const m = message(() => loadConfig({ file, env: {} }));
    expect(m).toContain(file);
    expect(m).toContain('server.prot');
    expect(m).toContain('colour');
  });

  it('refuses bad values with the key and the reason', () => {
    expect(message(() => loadConfig({ env: { RAGSPEC_PORT: 'eighty' } }))).toMatch(
      /RAGSPEC_PORT: expected an integer/,
    );
    expect(message(() => loadConfig({ env: {}, flags: { port: 70000 } }))).toMatch(/server\.port/);
    expect(message(() => loadConfig({ env: { RAGSPEC_MODE: 'fast' } }))).toMatch(/generation\.mode/);
  });

  it('explains a config file that is not JSON or not an object', () => {
    expect(message(() => loadConfig({ file: writeJson('{port: 1'), env: {} }))).toMatch(/not valid JSON/);
    expect(message(() => loadConfig({ file: writeJson([1]), env: {} }))).toMatch(/must be a JSON object/);
    expect(message(() => loadConfig({ file: '/nonexistent/ragspec.json', env: {} }))).toMatch(
      /cannot read the config file/,
    );
  });
});
