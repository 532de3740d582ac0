/**
 * One JSON line per event on stdout (Lambda's JSON log format keeps it structured). Never pass
 * secrets: the webhook secret and credentials must not reach a log line.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const jsonLogger: Logger = (level, msg, fields = {}) => {
  if (level === 'debug' && process.env.PODIAM_LOG_LEVEL !== 'debug') return;
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

export const silentLogger: Logger = () => {};
