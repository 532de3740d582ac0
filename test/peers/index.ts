// Test peers: start any subset for a test file, get endpoints and credentials, stop them together.
//   const peers = await startPeers({ moto: true, imds: true });
//   after(() => peers.stop());
// Each starter binds 127.0.0.1 on a free port, waits (bounded) until the peer answers, and kills it on stop()
// or when the test process exits. Binaries come from scripts/peers/install.sh (`npm run peers:install`).
import { startImdsMock, type ImdsMock, type ImdsMockOptions } from './imds.ts';
import { startKube, type Kube, type StartKubeOptions } from './kube.ts';
import { startMoto, type MotoOptions, type MotoPeer } from './moto.ts';

export { startKube } from './kube.ts';
export { startNode, nodeSkipReason, probeImage, buildImage, nodeIp, podGateway, podSubnet, kubernetesServiceIp } from './node.ts';
export type { Expose, ImageSpec, KubeNode, NodeLeftovers, StartNodeOptions } from './node.ts';
export type { Kube, StartKubeOptions } from './kube.ts';
export { startMoto, MOTO_ACCOUNT_ID, MOTO_ADMIN_USER, MOTO_DEFAULT_CREDENTIALS, MOTO_REGION } from './moto.ts';
export type { MotoCredentials, MotoOptions, MotoPeer } from './moto.ts';
export { startImdsMock, IMDS_DEFAULT_INSTANCE_ID, IMDS_DEFAULT_ROLE } from './imds.ts';
export type { ImdsMock, ImdsMockOptions, ImdsRoleCredentials } from './imds.ts';
export { cacheDir, requireTool, toolEnv, tools } from './tools.ts';
export { freePort, httpAnswers, PeerStartError, startOnFreePort, startProcess } from './process.ts';
export type { PeerProcess, StartProcessOptions } from './process.ts';

export interface PeersOptions {
  moto?: boolean | MotoOptions;
  imds?: boolean | ImdsMockOptions;
  kube?: boolean | StartKubeOptions;
}

export interface Peers {
  moto?: MotoPeer;
  imds?: ImdsMock;
  kube?: Kube;
  /** Stops every peer that was started; safe to call more than once. */
  stop(): Promise<void>;
}

const optionsOf = <T extends object>(v: boolean | T | undefined): T | undefined =>
  v === undefined || v === false ? undefined : v === true ? ({} as T) : v;

/** Starts the requested peers in parallel; if one fails, the others are stopped before the error is thrown. */
export async function startPeers(opts: PeersOptions): Promise<Peers> {
  const motoOpts = optionsOf(opts.moto);
  const imdsOpts = optionsOf(opts.imds);
  const kubeOpts = optionsOf(opts.kube);
  const results = await Promise.allSettled([
    motoOpts ? startMoto(motoOpts) : Promise.resolve(undefined),
    imdsOpts ? startImdsMock(imdsOpts) : Promise.resolve(undefined),
    kubeOpts ? startKube(kubeOpts) : Promise.resolve(undefined),
  ]);
  const [moto, imds, kube] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [
    MotoPeer | undefined,
    ImdsMock | undefined,
    Kube | undefined,
  ];
  const started = [moto, imds, kube].filter((p): p is NonNullable<typeof p> => p !== undefined);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.allSettled(started.map((p) => p.stop())).then(() => undefined);
    return stopping;
  };
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await stop();
    throw failed.length === 1 ? failed[0]!.reason : new AggregateError(failed.map((f) => f.reason), 'several test peers failed to start');
  }
  return { moto, imds, kube, stop };
}
