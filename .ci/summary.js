// Reads vitest's JSON report and prints exactly one line: "N passed, N failed[, N skipped]".
// Usage: node .ci/summary.js <report.json> [vitest exit code]
// Exit status 1 when anything failed or nothing ran, so CI can never go green on zero tests.
//
// What counts as failed (each shape checked by test/ci/summary.test.ts on real vitest runs):
// - every failed test;
// - every file whose status is "failed" with no failed test in it: a beforeAll that threw
//   (its tests are reported "skipped" — the missing-model path), a throwing afterAll, a file
//   that failed to import. Its skipped tests are not counted as skipped: they never ran;
// - a run that vitest marks unsuccessful, or that exited non-zero, with nothing above to
//   show for it: an unhandled error or rejection outside any test is missing from the JSON
//   report (the file even says "passed"), and only vitest's exit code records it.
import fs from 'node:fs';

const file = process.argv[2];
const exitArg = process.argv[3];
const vitestExit = exitArg === undefined ? 0 : Number(exitArg);
let report;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  console.log('0 passed, 1 failed');
  console.error(`cannot read vitest report ${file}: ${err.message}`);
  process.exit(1);
}

const files = report.testResults ?? [];
let failed = 0;
let skipped = 0;
for (const f of files) {
  const tests = f.assertionResults ?? [];
  const failedTests = tests.filter((t) => t.status === 'failed').length;
  failed += failedTests;
  if (f.status === 'failed' && failedTests === 0) {
    failed += 1;
    console.error(`failed outside its tests: ${f.name}${f.message ? ` — ${f.message}` : ''}`);
    continue;
  }
  skipped += tests.filter((t) => ['skipped', 'pending', 'todo'].includes(t.status)).length;
}
const passed = report.numPassedTests ?? 0;
if (failed === 0 && (report.success === false || vitestExit !== 0)) {
  failed = 1;
  console.error(
    `vitest ${report.success === false ? 'reported the run unsuccessful' : `exited ${vitestExit}`} ` +
      'with no failed test or file: an error outside the tests (see "Unhandled Errors" above)',
  );
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
