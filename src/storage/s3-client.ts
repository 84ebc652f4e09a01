import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'

export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider

export interface S3ClientOptions {
  region: string
  endpoint: string | undefined
  forcePathStyle: boolean
  connectTimeoutMs: number
  /** Left out: the SDK's default provider chain (environment, profile, container or instance role). */
  credentials?: Credentials | undefined
}

export function createS3Client (options: S3ClientOptions): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: 256 }
  return new S3Client({
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
}
