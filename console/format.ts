// How times read on the console: relative to now ("12 min ago", "in 3:12"), in the viewer's locale.

/** "42 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "3:12" (minutes:seconds) for a countdown; hours spelled out past one. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return duration(ms);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export const ago = (iso: string | null, now: number): string =>
  iso ? `${duration(now - Date.parse(iso))} ago` : 'never';

export const clock = (iso: string): string => new Date(iso).toLocaleTimeString();

/** "12 min ago" for a past time, "in 3 min" for a future one (beyond a second of clock tick or skew). */
export const relative = (iso: string | null, now: number): string => {
  if (!iso) return 'never';
  const d = Date.parse(iso) - now;
  return d > 1000 ? `in ${duration(d)}` : `${duration(Math.max(0, -d))} ago`;
};

/** "120 ms", "1.4 s"; '–' when there is nothing to show. */
export const millis = (ms: number | null): string =>
  ms === null ? '–' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
