// What a deploy uploads (the `sam build` output of each function) carries no GPL/AGPL code and not the
// AWS SDK for JavaScript v2. The checker (test/support/shipped-licences.ts) reads the bundle, its
// LEGAL.txt and its source map's list of bundled packages; test/unit/functions/shipped-licences.test.ts
// shows it finds each of those.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bundledPackages, shippedLicenceFindings } from '../../support/shipped-licences.ts';
import { samBuild, SHIPPED_FUNCTIONS, type FunctionId } from '../../support/sam-build.ts';

describe('licences of the shipped functions', () => {
  for (const fn of Object.keys(SHIPPED_FUNCTIONS) as FunctionId[]) {
    it(`${fn}'s package has no GPL/AGPL code and no aws-sdk v2`, () => {
      const root = samBuild().taskRoot(fn);

      // The package list comes from the shipped source map: without it the check would see only banners.
      assert.ok(bundledPackages(root).includes('@aws-sdk/client-iam'), `${fn}: bundled packages are listed`);
      assert.deepEqual(shippedLicenceFindings(root), []);
    });
  }
});
