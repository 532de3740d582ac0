// Issue 10 item 6: the admission function is configured with the SHA-256 of the webhook secret,
// never the secret. The URL must carry the secret itself: the configured hash (which anyone who can
// read the function's configuration sees) must not work as the URL's secret.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIT_PATH_PREFIX, secretMatches } from '../../../functions/admission/handler.ts';
import { webhookSecretSha256 } from '../../../functions/lib/config.ts';

const SECRET = 'a5f0c1d2e3b4a5f6071829304a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7';
const HASH = webhookSecretSha256(SECRET);

describe('webhook secret check against its SHA-256', () => {
  it('accepts the URL that carries the secret whose hash is configured', () => {
    assert.equal(secretMatches(`${ADMIT_PATH_PREFIX}${SECRET}`, HASH), true);
    assert.equal(secretMatches(`${ADMIT_PATH_PREFIX}${SECRET}/`, HASH), true);
  });

  it('refuses the configured hash itself in the URL: reading the function configuration gives no working URL', () => {
    assert.equal(secretMatches(`${ADMIT_PATH_PREFIX}${HASH}`, HASH), false);
  });

  it('refuses other secrets, a missing one and another path', () => {
    for (const path of [`${ADMIT_PATH_PREFIX}${SECRET.slice(0, -1)}`, `${ADMIT_PATH_PREFIX}`, '/', `/other/${SECRET}`]) {
      assert.equal(secretMatches(path, HASH), false, path);
    }
  });

  it('refuses everything when the configured hash is not 32 bytes of hex', () => {
    assert.equal(secretMatches(`${ADMIT_PATH_PREFIX}${SECRET}`, 'not-hex'), false);
  });
});
