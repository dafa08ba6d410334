// Values Postgres refuses in text and json(b): NUL (U+0000) and lone UTF-16 surrogates (what
// JSON.parse makes of "\u0000" and an unpaired "\ud800"). One check for every edge — frames,
// events, HTTP bodies, query strings and params — so such a value is refused with the field named
// instead of failing a transaction (or an activity, forever) further in.

export interface TextLimits {
  /** Deepest nesting of objects/arrays below the value itself (0 = a scalar only). */
  maxDepth?: number;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot be stored as Postgres text, or undefined. */
export function badString(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}

/**
 * The first string (value or object key) in `value` Postgres would refuse, as
 * `${path}: ${reason}` with the path joined by `sep` (`data.a.0` or `body/a/0`); or a too-deep value.
 */
export function badText(value: unknown, path: string, o: TextLimits & { sep?: string } = {}): string | undefined {
  const sep = o.sep ?? '.';
  const maxDepth = o.maxDepth ?? 32;
  const join = (at: string, k: string | number) => (at ? `${at}${sep}${k}` : String(k));
  const walk = (v: unknown, at: string, depth: number): string | undefined => {
    if (typeof v === 'string') {
      const why = badString(v);
      return why && `${at || 'value'}: ${why}`;
    }
    if (v === null || typeof v !== 'object') return undefined;
    if (depth >= maxDepth) return `${at || 'value'}: nested deeper than ${maxDepth} levels`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const why = walk(v[i], join(at, i), depth + 1);
        if (why) return why;
      }
      return undefined;
    }
    for (const [k, x] of Object.entries(v)) {
      const keyWhy = badString(k);
      if (keyWhy) return `${at || 'value'}: a key ${keyWhy}`;
      const why = walk(x, join(at, k), depth + 1);
      if (why) return why;
    }
    return undefined;
  };
  return walk(value, path, 0);
}
