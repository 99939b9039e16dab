import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DraftMemory } from '../../src/drafting/memory.ts';
import { DraftPlanner } from '../../src/drafting/planner.ts';
import { BudgetPolicy } from '../../src/drafting/budget.ts';
import { ReferenceDrafter } from '../../src/drafting/sources/reference.ts';
import type { DraftCandidate, DraftOutcome, DraftSource } from '../../src/drafting/types.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-memory-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('DraftMemory', () => {
  it('round-trips what the sources learned through its file (a fresh process starts from it)', () => {
    const file = path.join(tmp, 'a', 'memory.json');
    const m = DraftMemory.open(file); // no file yet: priors
    expect(m.reference.acceptance).toBe(0.5);
    // a reference drafter learns into the shared record
    const tok = { encode: (s: string) => [...s].map((c) => c.charCodeAt(0)) };
    const ref = new ReferenceDrafter([{ id: 1, text: 'abcdef' }], tok, { learned: m.reference });
    const ctx = { tokens: [97, 98], promptLength: 1, sampling: { temperature: 0 } };
    ref.propose(ctx, { maxTokens: 8, maxDepth: 4, maxBranches: 2 });
    ref.observe({ draftTokens: 4, acceptedTokens: 4, context: [97, 98, 99, 100, 101, 102] });
    m.table.set(5, [6, 7]);
    m.recycling.acceptance = 0.9;
    m.recycling.payoffMs = -4.5;
    m.drafter = { acceptance: 0.2, costMs: 12 };
    m.save();
    const again = DraftMemory.open(file);
    expect(again.reference.acceptance).toBeCloseTo(m.reference.acceptance);
    expect(Object.keys(again.reference.match).length).toBeGreaterThan(0);
    expect(again.table.get(5)).toEqual([6, 7]);
    expect(again.recycling.acceptance).toBe(0.9);
    expect(again.recycling.payoffMs).toBe(-4.5);
    expect(again.drafter).toEqual({ acceptance: 0.2, costMs: 12 });
    // atomic: no temp file is left beside it
    expect(fs.readdirSync(path.dirname(file))).toEqual(['memory.json']);
  });

  it('a damaged or foreign file means priors, never an error', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, '{"version": 1, "reference": ');
    expect(DraftMemory.open(file).reference.acceptance).toBe(0.5);
    fs.writeFileSync(file, JSON.stringify({ version: 99, reference: { acceptance: 0.1, match: {} } }));
    expect(DraftMemory.open(file).reference.acceptance).toBe(0.5);
  });
});

/** A fallback with a cost, as a drafter model has. */
class CostlySource implements DraftSource {
  asked = 0;
  constructor(
    public acceptance: number,
    public costMs: number,
  ) {}
  propose(): DraftCandidate[] {
    this.asked++;
    return [];
  }
  observe(_o: DraftOutcome): void {}
}

describe('the pay rule', () => {
  // a measured cost curve: a forward of s tokens costs 20 + 2 (s − 1) ms
  const budget = () =>
    new BudgetPolicy({ costCurve: Array.from({ length: 64 }, (_, s) => (s ? 20 + 2 * (s - 1) : 0)) });
  const ctx = { tokens: [1, 2], promptLength: 1, sampling: { temperature: 0 } };
  const limits = { maxDepth: 4, maxNodes: 64, eosIds: [], chainOnly: false };

  it('asks a costly fallback only while its expected saving exceeds its cost, probing now and then', async () => {
    // acceptance 0.5 over 4 drafts: ~0.94 tokens ≈ 19 ms saved, minus 6 ms extra verify cost
    const cheap = new CostlySource(0.5, 5);
    const dear = new CostlySource(0.5, 40);
    const planner = new DraftPlanner(
      [
        { source: cheap, fallback: true },
        { source: dear, fallback: true },
      ],
      { budget: budget() },
    );
    for (let i = 0; i < 32; i++) await planner.plan(ctx, limits);
    expect(cheap.asked).toBe(32);
    expect(dear.asked).toBe(2); // only the probes (every 16th step)
  });
});
