// The pure parts of the proxy's Kubernetes API client: the watch stream's line splitter, URLs and
// the token file's refresh. Its requests run against a real kube-apiserver in
// test/integration/proxy/kube-api-client.test.ts and, under the Reflector, kube-index.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeApiError, KubeClient, LineSplitter, kubeUrl } from '../../../proxy/src/k8s/api-client.ts';

describe('the watch line splitter', () => {
  it('joins a line split across chunks and keeps the unfinished rest for the next chunk', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(Buffer.from('{"type":"ADD')), []);
    assert.deepEqual(s.push(Buffer.from('ED"}\n{"type":"MOD')), ['{"type":"ADDED"}']);
    assert.deepEqual(s.push(Buffer.from('IFIED"}\n')), ['{"type":"MODIFIED"}']);
    assert.deepEqual(s.end(), []);
  });

  it('returns several lines of one chunk in order and skips blank lines', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(Buffer.from('a\n\nb\r\n  \nc\n')), ['a', 'b\r', 'c']);
  });

  it('keeps a multi-byte character whole when a chunk ends inside it', () => {
    const s = new LineSplitter();
    const bytes = Buffer.from('{"n":"ünïcødé"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the first two-byte character
    assert.deepEqual(s.push(bytes.subarray(0, cut)), []);
    assert.deepEqual(s.push(bytes.subarray(cut)), ['{"n":"ünïcødé"}']);
  });

  it('gives the last line without a newline when the stream ends', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(Buffer.from('a\nb')), ['a']);
    assert.deepEqual(s.end(), ['b']);
  });

  it('refuses a line longer than its bound instead of buffering without end', () => {
    const s = new LineSplitter(10);
    assert.throws(() => s.push(Buffer.from('x'.repeat(11))), (err: unknown) => err instanceof KubeApiError && err.code === 'KUBE_WATCH_LINE_TOO_LONG');
  });
});

describe('request URLs', () => {
  it("keep the server's path prefix, encode the query and leave out unset values", () => {
    const url = kubeUrl('https://h:6443/prefix/', '/api/v1/pods', { fieldSelector: 'spec.nodeName=n 1', limit: 500, continue: undefined, watch: true });
    assert.equal(url.href, 'https://h:6443/prefix/api/v1/pods?fieldSelector=spec.nodeName%3Dn+1&limit=500&watch=true');
  });
});

describe('the token file', () => {
  it('is read again once a minute old, and an unreadable file keeps the token already read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-token-'));
    try {
      const file = path.join(dir, 'token');
      writeFileSync(file, 'first\n');
      let now = 0;
      const client = new KubeClient({ server: 'http://127.0.0.1:1', tokenFile: file }, { now: () => now });
      const auth = async (): Promise<string | undefined> => (await (client as unknown as { headers(a: string): Promise<Record<string, string>> }).headers('application/json')).authorization;
      assert.equal(await auth(), 'Bearer first');
      writeFileSync(file, 'second\n');
      now = 59_999;
      assert.equal(await auth(), 'Bearer first');
      now = 60_000;
      assert.equal(await auth(), 'Bearer second');
      rmSync(file);
      now = 200_000;
      assert.equal(await auth(), 'Bearer second');
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
