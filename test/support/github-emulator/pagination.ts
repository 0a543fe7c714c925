/** One page of a list, cut like GitHub cuts it, and the Link header that leads to the others. */
export interface Page<T> {
  items: T[];
  link?: string;
}

const defaultPerPage = 30;
const maxPerPage = 100;

function positiveInt(value: string | null, fallback: number): number {
  const n = Number(value);
  return value !== null && Number.isInteger(n) && n >= 1 ? n : fallback;
}

/**
 * `pageUrl(query)` builds the absolute URL of another page from the request's own query with `page`
 * replaced, so filters and per_page carry over (octokit.paginate just follows rel="next").
 */
export function paginate<T>(
  all: T[],
  query: URLSearchParams,
  pageUrl: (query: URLSearchParams) => string,
): Page<T> {
  const perPage = Math.min(positiveInt(query.get("per_page"), defaultPerPage), maxPerPage);
  const page = positiveInt(query.get("page"), 1);
  const items = all.slice((page - 1) * perPage, page * perPage);
  const last = Math.max(1, Math.ceil(all.length / perPage));
  const rel = (n: number, name: string): string => {
    const q = new URLSearchParams(query);
    q.set("page", String(n));
    return `<${pageUrl(q)}>; rel="${name}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(rel(Math.min(page - 1, last), "prev"));
  if (page < last) links.push(rel(page + 1, "next"), rel(last, "last"));
  if (page > 1) links.push(rel(1, "first"));
  return links.length > 0 ? { items, link: links.join(", ") } : { items };
}
