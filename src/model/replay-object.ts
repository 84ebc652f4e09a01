// What the lookup hands to the signer and to the stream: where a game's
// replay is, what a download of it is called, and the compressed variants
// stored beside it. Shared by several layers, so it imports nothing.

/** A content coding a replay may be stored in besides identity. */
export type ContentCoding = 'gzip' | 'br' | 'zstd'

/** A compressed copy of the replay, stored beside it and recorded by the service. */
export interface ReplayVariant {
  encoding: ContentCoding
  key: string
  /** Its own size in bytes (what a client downloads). */
  size: number
}

export interface ReplayObject {
  key: string
  contentDisposition: string
  /** Undefined when the file name says nothing: the type stored with the object stands. */
  contentType: string | undefined
  /** Set on a variant: the Content-Encoding the signed URL fixes and the stream sends. */
  contentEncoding?: ContentCoding | undefined
  /** A variant's size as recorded. */
  size?: number | undefined
  /** The recorded variants, smallest first; none for a variant itself. */
  variants?: readonly ReplayVariant[] | undefined
  /** The identity object's size as recorded with the variants (for the bytes-saved metric); undefined without variants. */
  identitySize?: number | undefined
}
