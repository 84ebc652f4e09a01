// What every signer's URL has in common: the object's key in its path, the
// response-* parameters that name the download, and the escaping S3 itself
// signs with. A URL from the CDN and one from S3 differ only in where they
// point and how they are signed.

/**
 * How far a server's clock may be off from the one that checks a URL (S3's,
 * or a CDN edge's) without a handed-out URL being refused early: each signer
 * widens its URL's validity by this much where its scheme has room for it.
 */
export const CLOCK_SKEW_SECONDS = 60

export interface DownloadHeaders {
  /** Left out for the service's own reads, which S3 answers as stored. */
  contentDisposition: string | undefined
  contentType: string | undefined
  /** A compressed variant's coding: the answer's Content-Encoding is fixed by the URL, whatever the object's metadata says. */
  contentEncoding?: string | undefined
}

/** The answer's headers a download URL fixes, as S3's response-* parameters; undefined ones are left out. */
export function responseParams ({ contentDisposition, contentType, contentEncoding }: DownloadHeaders): Record<string, string> {
  return {
    ...(contentDisposition !== undefined && { 'response-content-disposition': contentDisposition }),
    ...(contentEncoding !== undefined && { 'response-content-encoding': contentEncoding }),
    ...(contentType !== undefined && { 'response-content-type': contentType })
  }
}

/** An object's key as a URL path, without the leading "/": each segment escaped once, as S3 signs it. */
export function keyPath (key: string): string {
  return key.split('/').map(escapeUri).join('/')
}

/** RFC 3986 escaping, as S3's path and query signing want it (encodeURIComponent leaves !'()* alone). */
export function escapeUri (text: string): string {
  const escaped = encodeURIComponent(text)
  // Most values have none of these: a test is far cheaper than a replace with a callback.
  return RESERVED.test(escaped) ? escaped.replace(RESERVED_ALL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : escaped
}

const RESERVED = /[!'()*]/
const RESERVED_ALL = /[!'()*]/g

/** name=value pairs sorted by name, each escaped: SigV4's canonical query, and the order every signer writes. */
export function queryString (query: Record<string, string>): string {
  return Object.keys(query).sort().map((name) => `${escapeUri(name)}=${escapeUri(query[name] as string)}`).join('&')
}
