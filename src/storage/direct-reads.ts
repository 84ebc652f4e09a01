// The streaming route's GetObject outside the SDK: what object-reads gets
// from the service's own reader of S3 (socket-reads/), and when a storage
// has one.
import type { Readable } from 'node:stream'
import type { S3Config } from '../config/index.js'
import type { ObjectMeta } from '../model/object-meta.js'
import type { S3RequestObserver } from '../model/s3-request.js'
import type { ReadSignal } from './cancellation.js'
import { SocketReads } from './socket-reads/index.js'

/** The body of a 200 or 206: `passed` counts the bytes handed on, `complete` says whether that was all. */
export interface DirectBody extends Readable {
  readonly passed: number
  readonly complete: boolean
}

/** What S3 answered before any byte of the body, and the body to pass on. */
export interface DirectAnswer {
  status: 200 | 206
  meta: ObjectMeta
  body: DirectBody
}

export interface DirectReads {
  /**
   * GETs a key with the given request headers (lines, as object-reads'
   * requestHeaders makes them): the status and body of a 200 or 206 with a
   * Content-Length, or undefined for any other answer (to be asked again
   * through the SDK). Rejects when no answer came.
   */
  get: (key: string, headers: string, signal: ReadSignal) => Promise<DirectAnswer | undefined>
  /** Closes the free sockets; those in use close when their download ends. */
  close: () => void
}

/** What the factory needs of a signer: the service's own read of a key, signed now (dated back like a handed-out URL). */
export interface ReadSigner {
  signRead: (key: string) => Promise<string>
}

/**
 * The streaming route's GetObject over the service's own sockets, signed by
 * `signer` (one for S3_ENDPOINT, the one for handed-out URLs when that is the
 * same endpoint): for an http: endpoint (S3 on the same network: Ceph RGW,
 * MinIO, the emulator), an https: one, and AWS's own, over TLS. Undefined,
 * so that the SDK reads every body, when S3_DIRECT_READS is false.
 */
export function directReads (s3: S3Config, signer: ReadSigner, onRequest: S3RequestObserver | undefined): DirectReads | undefined {
  if (s3.directReads === false) return undefined
  return new SocketReads({
    connectTimeoutMs: s3.connectTimeoutMs,
    sign: async (key) => await signer.signRead(key),
    onAnswer: onRequest === undefined ? undefined : (outcome, seconds) => { onRequest('GetObject', outcome, seconds) }
  })
}
