export interface RecordedSkip {
  name: string;
  file: string;
  reason: string;
}
export declare const SKIP_PREFIX: string;
export declare function isCi(env?: Record<string, string | undefined>): boolean;
export declare function readSkips(file: string): RecordedSkip[];
export declare function skipVerdict(skips: readonly RecordedSkip[], options: { ci: boolean; runExit?: number; root?: string }): { exitCode: number; lines: string[] };
