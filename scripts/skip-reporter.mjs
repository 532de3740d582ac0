// A node:test reporter that writes one JSON line per skipped test or suite: {name, file, reason}.
// scripts/test.mjs runs it next to the spec reporter (to a temp file) and reads the lines back,
// so a suite skipped for a missing privilege or peer cannot pass unnoticed. Skips for a missing
// privilege or peer give a reason starting with PODIAM_SKIP: (README.md, npm test).
export default async function* skipReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false) continue;
    yield `${JSON.stringify({ name, file: file ?? '', reason: typeof skip === 'string' ? skip : '' })}\n`;
  }
}
