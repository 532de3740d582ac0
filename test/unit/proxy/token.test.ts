import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenIssuer, parseTokenTtl } from '../../../proxy/src/imds/token.ts';
import { PodiamError } from '../../../core/src/errors.ts';

describe('IMDSv2 session tokens', () => {
  it('accepts a token from the address it was issued to until its TTL runs out', () => {
    let now = 1_000_000_000_000;
    const issuer = new TokenIssuer(() => now);
    const token = issuer.issue('192.0.2.10', 60);
    assert.equal(issuer.verify(token, '192.0.2.10'), true);
    now += 59_999;
    assert.equal(issuer.verify(token, '192.0.2.10'), true);
    now += 1;
    assert.equal(issuer.verify(token, '192.0.2.10'), false);
  });

  it('refuses a token replayed from another pod', () => {
    const issuer = new TokenIssuer();
    const token = issuer.issue('192.0.2.10', 21600);
    assert.equal(issuer.verify(token, '192.0.2.11'), false);
  });

  it('refuses a token replayed from another pod after its own pod has used it (when it is remembered)', () => {
    const issuer = new TokenIssuer();
    const token = issuer.issue('192.0.2.10', 21600);
    assert.equal(issuer.verify(token, '192.0.2.10'), true);
    assert.equal(issuer.verify(token, '192.0.2.11'), false);
    assert.equal(issuer.verify(token, '192.0.2.10'), true);
  });

  it('remembers a bounded number of tokens, and a forgotten one is checked in full again', () => {
    let now = 1_000_000_000_000;
    const issuer = new TokenIssuer(() => now, undefined, 3);
    const tokens = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip) => [issuer.issue(ip, 60), ip] as const);
    for (const [t, ip] of tokens) assert.equal(issuer.verify(t, ip), true);
    assert.equal((issuer as unknown as { verified: Map<string, unknown> }).verified.size, 3);
    // The first was forgotten: the full check still accepts it, and still refuses it from elsewhere.
    assert.equal(issuer.verify(tokens[0]![0], '192.0.2.1'), true);
    assert.equal(issuer.verify(tokens[0]![0], '192.0.2.9'), false);
    now += 60_000;
    for (const [t, ip] of tokens) assert.equal(issuer.verify(t, ip), false);
  });

  it('refuses a token whose expiry was edited, and one from another proxy', () => {
    const issuer = new TokenIssuer();
    const token = issuer.issue('192.0.2.10', 10);
    const [exp, mac] = token.split('.');
    assert.equal(issuer.verify(`${Number(exp) + 3_600_000}.${mac}`, '192.0.2.10'), false);
    assert.equal(new TokenIssuer().verify(token, '192.0.2.10'), false);
    assert.equal(issuer.verify('garbage', '192.0.2.10'), false);
  });

  it('reads the TTL header as IMDS does: 1 to 21600 seconds', () => {
    assert.equal(parseTokenTtl('21600'), 21600);
    assert.equal(parseTokenTtl(' 1 '), 1);
    for (const bad of [undefined, '', '0', '21601', '-5', '1.5', 'abc', ['60', '60']]) {
      assert.throws(() => parseTokenTtl(bad), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_IMDS_TOKEN_TTL_INVALID' && e.status === 400, String(bad));
    }
  });
});
