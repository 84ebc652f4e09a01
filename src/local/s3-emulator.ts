// An S3 server inside the process for local mode and the fast test run. It
// checks SigV4 signatures and expiry, so a wrongly signed URL fails here too,
// and answers ranges and conditions as a real S3 does (strict-reads.ts).
// A request without a signature is refused, as a private bucket refuses it:
// the emulator listens on this machine, where any page or program could
// otherwise read and write the bucket without a signed URL.
import S3rver from '@20minutes/s3rver'
import { createRequire } from 'node:module'
import { corsToXml, type CorsConfiguration } from '../bucket/cors-rules.js'
import { installStrictReads } from './strict-reads.js'

export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

export interface S3Emulator {
  endpoint: string
  close: () => Promise<void>
}

export interface S3EmulatorOptions {
  directory: string
  /** The bucket to create at start, with its CORS rules. */
  bucket: { name: string, cors: CorsConfiguration }
  port?: number
}

export async function startS3Emulator ({ directory, bucket, port = 0 }: S3EmulatorOptions): Promise<S3Emulator> {
  installStrictReads()
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket.name, configs: [corsToXml(bucket.cors)] }]
  })
  fixBucketLevelSignatures(server)
  refuseUnsigned(server)
  const address = await server.run()
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: async () => { await server.close() }
  }
}

/**
 * The SDK signs bucket-level calls (HeadBucket, CreateBucket, Get/PutBucketCors)
 * on the path `/bucket/`, while the emulator checks them against `/bucket` and
 * answers 403. Placed right after its vhost step, this makes the emulator
 * rebuild the path the SDK signed, so those calls work as on a real S3.
 */
function fixBucketLevelSignatures (server: S3rver): void {
  const at = server.middleware.findIndex((step) => step.name === 'vhost')
  /* c8 ignore next: a guard against an emulator upgrade that renames the step */
  if (at === -1) throw new Error('the S3 emulator has no vhost step; bucket-level calls would fail their signature check')
  server.middleware.splice(at + 1, 0, async (ctx, next) => {
    if (/^\/[^/]+\/$/.test(ctx.path)) {
      // Its canonical path is mountPath + "/" + bucket when vhost is false, and "/" + bucket + mountPath when true.
      ctx.mountPath = '/'
      ctx.state.vhost = true
    }
    await next()
  })
}

type S3ErrorClass = new (code: string, message: string, detail?: Record<string, unknown>) => Error
const S3Error = createRequire(import.meta.url)('@20minutes/s3rver/lib/models/error.js') as S3ErrorClass

/**
 * The emulator serves anonymous requests (a public bucket); S3 refuses them
 * on a private one, with 403 AccessDenied. Placed first, before the emulator
 * reads the request: a CORS preflight carries no signature (a browser sends
 * none), and a signed request goes on to the emulator's own checks of its
 * signature, key and expiry.
 */
function refuseUnsigned (server: S3rver): void {
  server.middleware.unshift(async (ctx, next) => {
    const signed = ctx.headers.authorization !== undefined || 'X-Amz-Signature' in ctx.query || 'Signature' in ctx.query
    if (!signed && ctx.method !== 'OPTIONS') throw new S3Error('AccessDenied', 'Access Denied')
    await next()
  })
}
