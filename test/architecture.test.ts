/**
 * The module picture of ../shared/ARCHITECTURE.md, checked on the real import graph with
 * dependency-cruiser: no import cycle anywhere under src/, and arrows point one way —
 * `api, cli → answer → {engine, retrieval}`, `engine → {drafting, verify} → model`,
 * `retrieval → model`. Also: HTTP statuses exist only in src/api and src/cli (lower layers
 * throw error kinds).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cruise, type IForbiddenRuleType } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/util/paths.ts';

const forbidden: IForbiddenRuleType[] = [
  { name: 'no-cycle', from: { path: '^src/' }, to: { circular: true } },
  {
    name: 'model, verify and drafting stay below the engine',
    from: { path: '^src/(model|verify|drafting)/' },
    to: { path: '^src/(engine|answer|api|cli)/' },
  },
  {
    name: 'the engine knows neither retrieval nor its callers',
    from: { path: '^src/engine/' },
    to: { path: '^src/(retrieval|answer|api|cli)/' },
  },
  {
    name: 'retrieval uses only the model layer',
    from: { path: '^src/retrieval/' },
    to: { path: '^src/(drafting|verify|engine|answer|api|cli)/' },
  },
  {
    name: 'the answer use case knows no HTTP or CLI',
    from: { path: '^src/answer/' },
    to: { path: '^src/(api|cli)/' },
  },
  { name: 'every import resolves', from: { path: '^src/' }, to: { couldNotResolve: true } },
];

describe('architecture', () => {
  it('has no import cycle under src/ and every arrow points the documented way', async () => {
    const prev = process.cwd();
    process.chdir(repoRoot); // rule paths are relative to the repository root
    try {
      const { output } = await cruise(['src'], {
        validate: true,
        tsPreCompilationDeps: true, // type-only imports count too
        ruleSet: { forbidden: forbidden.map((r) => ({ severity: 'error', ...r })) },
        doNotFollow: { path: 'node_modules' },
      });
      if (typeof output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
      expect(output.summary.totalCruised).toBeGreaterThan(100); // it really read the tree
      const violations = output.summary.violations.map(
        (v) =>
          `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`,
      );
      expect(violations).toEqual([]);
    } finally {
      process.chdir(prev);
    }
  }, 60_000);

  it('has no HTTP status outside src/api and src/cli', () => {
    const hits: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        const rel = path.relative(repoRoot, p).split(path.sep).join('/');
        if (e.isDirectory()) {
          if (rel !== 'src/api' && rel !== 'src/cli') walk(p);
        } else if (e.name.endsWith('.ts')) {
          fs.readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // `status: 400`, `statusCode = 503`, `.status(404)`: code, not prose
              if (
                /\b(status|statusCode)\b\s*[:=(]\s*[1-5]\d\d\b/.test(line) ||
                /\bstatus\s*:\s*[A-Za-z_]/.test(line)
              )
                hits.push(`${rel}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(path.join(repoRoot, 'src'));
    expect(hits).toEqual([]);
  });
});
