import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { performance } from 'node:perf_hooks'
import type { S3RequestObserver } from '../model/s3-request.js'

export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider

export interface S3ClientOptions {
  region: string
  endpoint: string | undefined
  forcePathStyle: boolean
  connectTimeoutMs: number
  /** Left out: the SDK's default provider chain (environment, profile, container or instance role). */
  credentials?: Credentials | undefined
  /** Told of every request the client sends to S3; left out, nothing is measured. */
  onRequest?: S3RequestObserver | undefined
}

export function createS3Client (options: S3ClientOptions): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: 256 }
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    // Since 3.729 the SDK adds checksum parameters by default: presigned GETs
    // then carry x-amz-checksum-mode, which several S3 implementations refuse.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.connectTimeoutMs,
      // No idle-socket timer: a download paused by a slow client is healthy.
      socketTimeout: 0,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions)
    })
  })
  if (options.onRequest !== undefined) timeRequests(client, options.onRequest)
  return client
}

/**
 * Times each request at the deserialize step: inside the retries (each
 * attempt is a request of its own), around the HTTP exchange and, first in
 * its step, around the SDK's deserializer, which throws for a status other
 * than 2xx. A presigned URL is made before this step (getSignedUrl stops at
 * signing), so signing is never counted as a request.
 */
function timeRequests (client: S3Client, observe: S3RequestObserver): void {
  client.middlewareStack.add((next, context) => async function timeS3Request (args) {
    const operation = (context.commandName as string).replace(/Command$/, '')
    const started = performance.now()
    try {
      const answer = await next(args)
      observe(operation, 'ok', (performance.now() - started) / 1000)
      return answer
    } catch (error) {
      observe(operation, 'error', (performance.now() - started) / 1000)
      throw error
    }
  }, { step: 'deserialize', priority: 'high', name: 'replayGateRequestTimer' })
}
