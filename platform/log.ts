import { pino, type Logger } from 'pino';

export type { Logger };

// One logger for every process; the component name tells the lines apart in `npm start`.
// Processes pass their configuration's level (LOG_LEVEL); tests and benchmarks pick their own.
export function createLogger(component: string, level: string): Logger {
  return pino({ level, base: { component } });
}
