/** Bundles functions/<name>/handler.ts into <outdir>/handler.mjs; resolves to the bundle's path. */
export declare function buildFunction(name: string, outdir: string): Promise<string>;
