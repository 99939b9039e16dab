/** Read one sample from the Prometheus text exposition. */
export async function metricValue(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[3] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m[4]);
  }
  return 0;
}

/** Poll until `check` passes (no timing assertion: the test's own timeout is the bound). */
export async function waitFor(check: () => Promise<boolean>, what: string, everyMs = 20): Promise<void> {
  for (let i = 0; ; i++) {
    if (await check()) return;
    if (i > 50_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
