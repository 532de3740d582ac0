// Findings quote the policy file (an action, a file name), and the human format goes to a
// terminal. An author with write access to a branch could put ESC sequences, CR or LF in an action
// string, so that a reviewer running `podiam check` sees lines erased, or a forged "0 errors"
// summary under the real one. The human format shows control characters escaped.
/* eslint-disable no-control-regex -- the test looks for control characters in the output */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { run } from '../../../cli/src/main.ts';

const repo = path.resolve(import.meta.dirname, '../../..');

describe('control characters from policy files in the human format', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'podiam-escapes-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'team'));
  const forged = 's3:GetObjekt\u001b[2K\r\n1 file checked in 3 ms: 0 errors, 0 warnings, 0 suggestions.\u009b2J';
  writeFileSync(path.join(root, 'team/app.json'), JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: forged, Resource: '*' }] }, null, 2));

  for (const stdoutIsTTY of [true, false]) {
    it(`shows them escaped, so no line can be erased or forged (${stdoutIsTTY ? 'on a terminal, with colours' : 'not a terminal'})`, async () => {
      let stdout = '';
      const code = await run(['check', root, '--guardrails', path.join(repo, 'policies/guardrails.json')], { stdout: (t) => (stdout += t), stderr: () => {}, env: {}, stdoutIsTTY });
      assert.equal(code, 1);
      // The only escape sequences are podiam's own colours (SGR: ESC [ digits m).
      assert.deepEqual(stdout.replace(/\u001b\[\d+m/g, '').match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g), null);
      const lines = stdout.replace(/\u001b\[\d+m/g, '').split('\n');
      assert.deepEqual(lines.filter((l) => /^\d+ files? checked/.test(l)).length, 1, stdout);
      assert.match(stdout, /'s3:GetObjekt\\u001b\[2K\\u000d\\u000a1 file checked in 3 ms/);
      assert.match(stdout.replace(/\u001b\[\d+m/g, ''), /\n1 file checked in \d+ ms: 1 error, /);
    });
  }
});
