/**
 * Pearson's chi-square goodness-of-fit test of observed counts against exact probabilities,
 * with cells of expected count < 5 pooled into one. Returns the statistic and the critical
 * value at 0.999 (Wilson–Hilferty approximation of the chi-square quantile), so a correct
 * sampler fails by chance once in 1000 seeds.
 */
export function chiSquare(
  counts: ReadonlyMap<string, number>,
  probs: ReadonlyMap<string, number>,
  n: number,
): { stat: number; crit: number; cells: number } {
  let stat = 0;
  let cells = 0;
  let pooledObs = 0;
  let pooledExp = 0;
  for (const [k, p] of probs) {
    const e = p * n;
    const o = counts.get(k) ?? 0;
    if (e < 5) {
      pooledObs += o;
      pooledExp += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    cells++;
  }
  // outcomes the exact distribution gives probability 0 are impossible: all pooled
  for (const [k, o] of counts) if (!probs.has(k)) pooledObs += o;
  if (pooledExp > 0 || pooledObs > 0) {
    stat += (pooledObs - pooledExp) ** 2 / Math.max(pooledExp, 1e-9);
    cells++;
  }
  const df = Math.max(1, cells - 1);
  const z = 3.0902; // standard normal 0.999 quantile
  const crit = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
  return { stat, crit, cells };
}
