// An S3 server inside the process for local mode and the fast test run. It
// checks SigV4 signatures and expiry, so a wrongly signed URL fails here too.
import S3rver from '@20minutes/s3rver'
import { corsToXml, type CorsConfiguration } from '../storage/bucket-cors.js'

export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

export interface S3Emulator {
  endpoint: string
  close: () => Promise<void>
}

export interface S3EmulatorOptions {
  directory: string
  bucket: string
  cors: CorsConfiguration
  port?: number
}

export async function startS3Emulator ({ directory, bucket, cors, port = 0 }: S3EmulatorOptions): Promise<S3Emulator> {
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [corsToXml(cors)] }]
  })
  const address = await server.run()
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: async () => { await server.close() }
  }
}
