import { pino, type Logger } from 'pino';

export type { Logger };

// One logger for every process; the component name tells the lines apart in `npm start`.
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component } });
}
