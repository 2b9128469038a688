// One pino logger for the whole agent: JSON lines on stdout, secrets redacted.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'auth.password',
  'secret',
  '*.secret',
  'secretAccessKey',
  '*.secretAccessKey',
  'accessKeySecret',
  '*.accessKeySecret',
  'sessionToken',
  '*.sessionToken',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'ha-agent',
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as any,
  );
}

export type { Logger };
