// The headers a replay download has, the same whether the bytes come through
// /stream or HEAD /replay describes what the redirect will give.
import type { ObjectMeta, Validators } from '../model/object-meta.js'
import type { ReplayObject } from '../model/replay-object.js'

export function validatorHeaders ({ etag, lastModified }: Validators): Record<string, string> {
  const headers: Record<string, string> = {}
  if (etag !== undefined) headers.etag = etag
  if (lastModified !== undefined) headers['last-modified'] = lastModified.toUTCString()
  return headers
}

/** `delivery`: how the bytes travel (X-Replay-Delivery); `cacheControl`: how long a browser may keep the answer. */
export function replayHeaders (object: ReplayObject, meta: ObjectMeta, { delivery, cacheControl }: { delivery: 'stream' | 'redirect', cacheControl: string }): Record<string, string> {
  const headers: Record<string, string> = {
    // S3 always sends a type (binary/octet-stream when none was stored).
    'content-type': (object.contentType ?? meta.contentType) as string,
    'content-disposition': object.contentDisposition,
    'accept-ranges': 'bytes',
    'cache-control': cacheControl,
    'x-replay-delivery': delivery,
    ...validatorHeaders(meta)
  }
  // A variant's coding as the signed URL fixes it, whatever the object's metadata says.
  if (object.contentEncoding !== undefined) headers['content-encoding'] = object.contentEncoding
  if (meta.contentLength !== undefined) headers['content-length'] = String(meta.contentLength)
  if (meta.contentRange !== undefined) headers['content-range'] = meta.contentRange
  return headers
}

/** Variants recorded but missing from the bucket, each logged once. */
const missing = new Set<string>()

/** Says once per variant that a recorded one is not in the bucket (the replay itself is served instead). */
export function missingVariant (log: { warn: (details: object, message: string) => void }, gameId: string, variant: ReplayObject): void {
  if (missing.has(variant.key)) return
  if (missing.size >= 10_000) missing.clear()
  missing.add(variant.key)
  log.warn({ gameId, key: variant.key, encoding: variant.contentEncoding }, 'a recorded compressed variant is missing from the bucket: the replay itself is served; run npm run replays:compress to make it again')
}
