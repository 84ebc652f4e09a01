// How long a browser may keep an answer that carries a signed URL.

/**
 * A redirect may be cached by the browser only while its URL still works; a
 * tenth of the TTL is kept back for a client clock that runs a little ahead.
 */
export function cacheControlFor (expiresAt: Date, now: Date, ttlSeconds: number): string {
  const left = Math.floor((expiresAt.getTime() - now.getTime()) / 1000) - Math.ceil(ttlSeconds / 10)
  return left >= 1 ? `private, max-age=${left}` : 'no-store'
}
