// The credential the workbench presents: a fixed JWT, or a function asked again before every connect
// and every fallback request, so a token that expires can be renewed without a new client.

export type TokenSource = string | (() => string | Promise<string>);

export async function resolveToken(token: TokenSource): Promise<string> {
  return typeof token === 'function' ? await token() : token;
}
