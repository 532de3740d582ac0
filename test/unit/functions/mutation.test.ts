// The mutating webhook's decision (functions/admission/mutation.ts): which pods get token identity,
// and the JSON Patch that gives it, applied here by a small RFC 6902 'add' so the result is checked
// as a pod, not as a list of operations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FULL_URI_ENV, TOKEN_FILE, TOKEN_FILE_ENV, TOKEN_MOUNT_PATH, TOKEN_VOLUME_NAME, pointer, podMutation, type JsonPatchOp } from '../../../functions/admission/mutation.ts';
import { mutateResponse, parseReview } from '../../../functions/admission/review.ts';
import { TOKEN_IDENTITY_ANNOTATION } from '../../../core/src/annotations.ts';

const settings = { audience: 'podiam', expirationSeconds: 600 };

type Json = Record<string, unknown>;

function review(pod: Json, extra: Json = {}) {
  return parseReview(JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'orders', operation: 'CREATE', object: pod, ...extra },
  }));
}

/** As the API server sends it: its ServiceAccount admission plugin has set serviceAccountName. */
function pod(spec: Json, annotations: Record<string, string> = { [TOKEN_IDENTITY_ANNOTATION]: 'true' }): Json {
  return { metadata: { name: 'p', annotations }, spec: { serviceAccountName: 'default', ...spec } };
}

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** RFC 6902 'add' only (all the mutation emits), strict: the parent must exist. */
function applyPatch(doc: Json, patch: JsonPatchOp[]): Json {
  const out = structuredClone(doc);
  for (const op of patch) {
    assert.equal(op.op, 'add');
    const parts = op.path.split('/').slice(1).map(unescape);
    const last = parts.pop()!;
    let parent: unknown = out;
    for (const p of parts) {
      parent = Array.isArray(parent) ? parent[Number(p)] : (parent as Json)[p];
      assert.ok(parent !== undefined && parent !== null, `${op.path}: parent ${p} is missing`);
    }
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else (parent as Json)[last] = op.value;
  }
  return out;
}

function mutated(p: Json): { spec: { volumes: Json[]; containers: Json[]; initContainers?: Json[] } } {
  const m = podMutation(review(p), settings);
  assert.equal(m.kind, 'mutate', m.reason);
  return applyPatch(p, m.kind === 'mutate' ? m.patch : []) as never;
}

const tokenEnv = [
  { name: FULL_URI_ENV, value: 'http://169.254.170.23/v1/credentials' },
  { name: TOKEN_FILE_ENV, value: '/var/run/secrets/podiam.io/serviceaccount/token' },
];
const tokenMount = { name: 'podiam-token', mountPath: '/var/run/secrets/podiam.io/serviceaccount', readOnly: true };

describe('token identity mutation (pure)', () => {
  it('adds a projected token volume of the audience and lifetime, and the env and mount, to a pod that has none of the arrays', () => {
    const out = mutated(pod({ containers: [{ name: 'app', image: 'app:1' }] }));

    assert.deepEqual(out.spec.volumes, [{ name: 'podiam-token', projected: { sources: [{ serviceAccountToken: { audience: 'podiam', expirationSeconds: 600, path: 'token' } }] } }]);
    assert.deepEqual(out.spec.containers[0]!.env, tokenEnv);
    assert.deepEqual(out.spec.containers[0]!.volumeMounts, [tokenMount]);
    assert.equal(TOKEN_FILE, `${TOKEN_MOUNT_PATH}/token`);
    assert.equal(TOKEN_VOLUME_NAME, 'podiam-token');
  });

  it('appends to existing volumes, env and mounts of every container and init container, keeping what is there', () => {
    const out = mutated(pod({
      volumes: [{ name: 'data', emptyDir: {} }],
      initContainers: [{ name: 'migrate', image: 'm:1', env: [{ name: 'A', value: '1' }] }],
      containers: [
        { name: 'app', image: 'app:1', env: [{ name: 'B', value: '2' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] },
        { name: 'sidecar', image: 's:1', env: null },
      ],
    }));

    assert.deepEqual(out.spec.volumes.map((v) => v.name), ['data', 'podiam-token']);
    assert.deepEqual(out.spec.initContainers![0]!.env, [{ name: 'A', value: '1' }, ...tokenEnv]);
    assert.deepEqual(out.spec.initContainers![0]!.volumeMounts, [tokenMount]);
    assert.deepEqual(out.spec.containers[0]!.env, [{ name: 'B', value: '2' }, ...tokenEnv]);
    assert.deepEqual(out.spec.containers[0]!.volumeMounts, [{ name: 'data', mountPath: '/data' }, tokenMount]);
    assert.deepEqual(out.spec.containers[1]!.env, tokenEnv, 'a null env is replaced');
  });

  it('uses the configured audience and lifetime', () => {
    const m = podMutation(review(pod({ containers: [{ name: 'app' }] })), { audience: 'sts.example', expirationSeconds: 3600 });
    const out = applyPatch(pod({ containers: [{ name: 'app' }] }), m.kind === 'mutate' ? m.patch : []) as { spec: { volumes: Array<{ projected: { sources: Array<{ serviceAccountToken: Json }> } }> } };
    assert.deepEqual(out.spec.volumes[0]!.projected.sources[0]!.serviceAccountToken, { audience: 'sts.example', expirationSeconds: 3600, path: 'token' });
  });

  it('mutates a pod with no annotation at all (sent because its namespace opted in)', () => {
    assert.equal(podMutation(review(pod({ containers: [{ name: 'app' }] }, {})), settings).kind, 'mutate');
  });

  it('leaves alone a pod that opts out with "false"', () => {
    const m = podMutation(review(pod({ containers: [{ name: 'app' }] }, { [TOKEN_IDENTITY_ANNOTATION]: 'false' })), settings);
    assert.equal(m.kind, 'skip');
    assert.match(m.reason, /opts out/);
  });

  it('mutates with a warning a pod whose annotation is neither "true" nor "false"', () => {
    const m = podMutation(review(pod({ containers: [{ name: 'app' }] }, { [TOKEN_IDENTITY_ANNOTATION]: 'yes' })), settings);
    assert.equal(m.kind, 'mutate');
    assert.match(m.warnings.join('\n'), /"yes", neither "true" nor "false"/);
  });

  it('leaves alone a hostNetwork pod, with a warning that it keeps the metadata path', () => {
    const m = podMutation(review(pod({ hostNetwork: true, containers: [{ name: 'app' }] })), settings);
    assert.equal(m.kind, 'skip');
    assert.match(m.warnings.join('\n'), /hostNetwork.*metadata path/);
  });

  it('leaves alone, with a warning, a pod without serviceAccountName, which the API server would refuse with the projected token', () => {
    for (const serviceAccountName of [undefined, '']) {
      const m = podMutation(review(pod({ serviceAccountName, containers: [{ name: 'app' }] })), settings);
      assert.equal(m.kind, 'skip');
      assert.match(m.warnings.join('\n'), /needs the pod's serviceAccountName/);
    }
  });

  it('leaves alone a pod that already has the podiam-token volume (idempotent: reinvocation adds nothing)', () => {
    const once = mutated(pod({ containers: [{ name: 'app' }] }));
    const m = podMutation(review(once as unknown as Json), settings);
    assert.equal(m.kind, 'skip');
    assert.match(m.reason, /already has the podiam-token volume/);
  });

  for (const own of ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE']) {
    it(`never clobbers a container that sets ${own} itself, and says so`, () => {
      const out = mutated(pod({ containers: [{ name: 'own', env: [{ name: own, value: 'x' }] }, { name: 'app' }] }));
      const m = podMutation(review(pod({ containers: [{ name: 'own', env: [{ name: own, value: 'x' }] }, { name: 'app' }] })), settings);

      assert.deepEqual(out.spec.containers[0], { name: 'own', env: [{ name: own, value: 'x' }] });
      assert.deepEqual(out.spec.containers[1]!.env, tokenEnv);
      assert.match(m.warnings.join('\n'), new RegExp(`container own sets ${own}; left as it is`));
    });
  }

  it('adds no volume when every container keeps its own credentials', () => {
    const m = podMutation(review(pod({ containers: [{ name: 'own', env: [{ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://x' }] }] })), settings);
    assert.equal(m.kind, 'skip');
    assert.equal(m.warnings.length, 1);
  });

  it('leaves alone a container that already mounts something at the token directory', () => {
    const m = podMutation(review(pod({ volumes: [{ name: 'x', emptyDir: {} }], containers: [{ name: 'app', volumeMounts: [{ name: 'x', mountPath: TOKEN_MOUNT_PATH }] }] })), settings);
    assert.equal(m.kind, 'skip');
    assert.match(m.warnings.join('\n'), /already mounts something/);
  });

  it('leaves ephemeral containers alone', () => {
    const out = mutated(pod({ containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'debug' }] })) as unknown as { spec: { ephemeralContainers: Json[] } };
    assert.deepEqual(out.spec.ephemeralContainers, [{ name: 'debug' }]);
  });

  it('mutates only pod creations: not updates, not other kinds, not subresources', () => {
    const p = pod({ containers: [{ name: 'app' }] });
    assert.equal(podMutation(review(p, { operation: 'UPDATE', oldObject: p }), settings).kind, 'skip');
    assert.equal(podMutation(review(p, { subResource: 'status' }), settings).kind, 'skip');
    assert.equal(podMutation(review({ metadata: { name: 'ns' } }, { kind: { group: '', version: 'v1', kind: 'Namespace' }, resource: { group: '', version: 'v1', resource: 'namespaces' } }), settings).kind, 'skip');
  });

  it('reads fields of the wrong shape as empty instead of throwing', () => {
    const m = podMutation(review(pod({ volumes: 'nope', containers: [{ name: 'app', env: 'nope', volumeMounts: 7 }] })), settings);
    assert.equal(m.kind, 'mutate');
  });

  it('escapes JSON Pointer segments (RFC 6901: ~ as ~0, / as ~1)', () => {
    assert.equal(pointer('spec', 'a/b', 'c~d', 0, '-'), '/spec/a~1b/c~0d/0/-');
  });

  it('answers with allowed, patchType JSONPatch and the patch in base64', () => {
    const m = podMutation(review(pod({ containers: [{ name: 'app' }] })), settings);
    assert.equal(m.kind, 'mutate');
    const answer = mutateResponse('u1', m.kind === 'mutate' ? m.patch : [], ['w']);

    assert.equal(answer.response.uid, 'u1');
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(answer.response.patch!, 'base64').toString('utf8')), m.kind === 'mutate' ? m.patch : []);
    assert.deepEqual(answer.response.warnings, ['w']);
  });
});
