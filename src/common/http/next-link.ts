/**
 * RFC 8288 link to the next page: the request's own path and query, with `set` given and `drop`
 * left out.
 */
export function nextLink(originalUrl: string, set: Record<string, string>, drop: string[] = []): string {
  const url = new URL(originalUrl, 'http://local');
  for (const name of drop) url.searchParams.delete(name);
  for (const [name, value] of Object.entries(set)) url.searchParams.set(name, value);
  return `<${url.pathname}${url.search}>; rel="next"`;
}
