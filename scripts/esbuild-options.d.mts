import type { BuildOptions } from 'esbuild';

export declare const SHIPPED_NODE_MAJOR: number;
export declare const nodeBundleOptions: BuildOptions;
export declare const proxyBundleOptions: BuildOptions;
export declare const cliBundleOptions: BuildOptions;
export declare const functionBundleOptions: BuildOptions;
