/** GET /metrics on a fresh connection (no keep-alive reuse races between polls). */
async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: { connection: 'close' } }).catch(() => null);
  if (res) return res.text();
  return (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
}

/** Read one sample from the Prometheus text exposition. */
export async function metricValue(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await scrape(url);
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
