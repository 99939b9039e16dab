// Reads vitest's JSON report and prints exactly one line: "N passed, N failed".
// Exit status 1 when anything failed or nothing ran, so CI can never go green on zero tests.
import fs from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  console.log('0 passed, 1 failed');
  console.error(`cannot read vitest report ${file}: ${err.message}`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// Suites that crash before any test runs count as failures too.
const failedSuites = (report.testResults ?? []).filter(
  (s) => s.status === 'failed' && s.assertionResults.length === 0,
).length;
const failed = (report.numFailedTests ?? 0) + failedSuites;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
