// The console's only way to the server: the gateway's HTTP API with the bearer token the operator
// logged in with (kept in session storage: gone when the tab closes). Errors come back in the
// API's `{code, message}` shape; a 401 logs the page out.
const TOKEN_KEY = 'vigil.console.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** The field a 400 names (`body/windows/idleAfterNoTaskSec: …` → `windows.idleAfterNoTaskSec`), if any. */
  get field(): string | undefined {
    const m = /^body\/([^:\s]+)/.exec(this.message);
    return m?.[1]?.replace(/\//g, '.');
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A token handed over in the URL fragment (`npm start` prints such a link) moves to session storage. */
export function takeTokenFromUrl(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return;
  session.set(decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

let onUnauthorized: () => void = () => {};
export const whenUnauthorized = (f: () => void) => (onUnauthorized = f);

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${session.token() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, json.code ?? 'ERROR', json.message ?? res.statusText);
  }
  return json as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, signal);

/** `?a=1&b=2` from the defined values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
