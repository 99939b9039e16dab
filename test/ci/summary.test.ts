/**
 * .ci/summary.js on real vitest JSON reports. Each case writes a tiny test file into a temp
 * folder, runs this repo's vitest on it (so the report has vitest's real shape, not one we
 * imagine) and feeds the report and vitest's exit code to summary.js.
 *
 * Shown to catch the old rule: `naiveFailed` below is summary.js's previous count (failed
 * tests + failed files with no tests at all); on the beforeAll, afterAll and unhandled
 * rejection reports it says 0 failed, and the tests assert that, so the cases are the ones
 * that fooled it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/util/paths.ts';

const run = promisify(execFile);
const VITEST = path.join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
const SUMMARY = path.join(repoRoot, '.ci', 'summary.js');
const ASSETS = path.join(repoRoot, 'test', 'helpers', 'assets.ts');

interface Report {
  testResults: { status: string; message: string; assertionResults: { status: string }[] }[];
  numFailedTests: number;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-summary-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs vitest on one generated test file; returns its JSON report and exit code. */
async function vitestOn(name: string, source: string, env: NodeJS.ProcessEnv = {}) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.test.ts`), source);
  const reportFile = path.join(dir, 'report.json');
  // the outer vitest's own variables would make the inner one think it is a worker
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  let exitCode = 0;
  try {
    await run(
      process.execPath,
      [VITEST, 'run', '--root', dir, '--reporter=json', `--outputFile.json=${reportFile}`],
      { env: { ...clean, ...env, CI: 'true' }, cwd: dir },
    );
  } catch (err) {
    exitCode = (err as { code?: number }).code ?? 1;
  }
  return { reportFile, exitCode, report: JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report };
}

async function summary(reportFile: string, exitCode: number) {
  try {
    const { stdout } = await run(process.execPath, [SUMMARY, reportFile, String(exitCode)]);
    return { line: stdout.trim(), status: 0 };
  } catch (err) {
    const e = err as { stdout: string; code: number };
    return { line: e.stdout.trim(), status: e.code };
  }
}

/** The previous summary.js rule, kept as the broken variant the cases must expose. */
function naiveFailed(r: Report): number {
  const crashed = r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0);
  return r.numFailedTests + crashed.length;
}

describe('.ci/summary.js on vitest JSON reports', () => {
  it('a checkout without the model: beforeAll throws, tests skipped, the line says failed', async () => {
    // the real missing-model path: the asset helper throws in beforeAll, RAGSPEC_HOME empty
    const src = `import { beforeAll, it } from 'vitest';
import { targetGguf } from ${JSON.stringify(ASSETS)};
beforeAll(() => { targetGguf(); });
it('uses the model', () => {});
it('uses it again', () => {});
`;
    const home = path.join(tmp, 'empty-home');
    fs.mkdirSync(home, { recursive: true });
    const v = await vitestOn('nomodel', src, { RAGSPEC_HOME: home });
    expect(v.report.testResults[0]!.message).toContain('npx ragspec setup');
    expect(v.report.testResults[0]!.assertionResults.map((t) => t.status)).toEqual(['skipped', 'skipped']);
    expect(naiveFailed(v.report)).toBe(0);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('0 passed, 1 failed');
    expect(s.status).toBe(1);
  }, 60_000);

  it('a throwing afterAll fails the file although its test passed', async () => {
    const src = `import { afterAll, it } from 'vitest';
afterAll(() => { throw new Error('cleanup broke'); });
it('passes', () => {});
`;
    const v = await vitestOn('afterall', src);
    expect(naiveFailed(v.report)).toBe(0);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('1 passed, 1 failed');
    expect(s.status).toBe(1);
  }, 60_000);

  it('an unhandled rejection outside any test is a failure (only the exit code records it)', async () => {
    const src = `import { it } from 'vitest';
it('passes but leaks a rejection', () => { void Promise.reject(new Error('nobody awaited me')); });
`;
    const v = await vitestOn('unhandled', src);
    expect(v.exitCode).not.toBe(0);
    expect(naiveFailed(v.report)).toBe(0);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('1 passed, 1 failed');
    expect(s.status).toBe(1);
  }, 60_000);

  it('a file that fails to import counts once', async () => {
    const v = await vitestOn('import', `throw new Error('cannot load');\n`);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('0 passed, 1 failed');
  }, 60_000);

  it('a failing test counts as one failure; skips in passing files stay skips', async () => {
    const src = `import { expect, it } from 'vitest';
it('passes', () => {});
it('fails', () => { expect(1).toBe(2); });
it.skip('skipped on purpose', () => {});
`;
    const v = await vitestOn('realfail', src);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('1 passed, 1 failed, 1 skipped');
    expect(s.status).toBe(1);
  }, 60_000);

  it('all passing is green', async () => {
    const v = await vitestOn(
      'green',
      `import { it } from 'vitest';\nit('a', () => {});\nit('b', () => {});\n`,
    );
    expect(v.exitCode).toBe(0);
    const s = await summary(v.reportFile, v.exitCode);
    expect(s.line).toBe('2 passed, 0 failed');
    expect(s.status).toBe(0);
  }, 60_000);

  it('a missing report is a failure', async () => {
    const s = await summary(path.join(tmp, 'no-such-report.json'), 1);
    expect(s.line).toBe('0 passed, 1 failed');
    expect(s.status).toBe(1);
  });
});
