// The service's log: pino as Fastify has it, one JSON line per event, with
// every secret scrubbed from the finished line. Signed URLs, SDK errors and
// request headers can carry a signature, a credential or a session token in
// many shapes and at any level; scrubbing the serialized line catches them
// wherever they are, including in messages and stack traces.
import type { FastifyServerOptions } from 'fastify'
import type { LogLevel } from '../config/index.js'

const REDACTED = '[REDACTED]'

const SECRETS: Array<[RegExp, string]> = [
  // Query parameters of a presigned URL, plain or percent-encoded.
  [/(X-Amz-(?:Signature|Credential|Security-Token)(?:=|%3D))[^&"\s\\]*/gi, `$1${REDACTED}`],
  // An Authorization header: "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…", or a bearer token.
  [/(?<![\w-])((?:Credential|Signature)=)[^,&\s"\\]+/g, `$1${REDACTED}`],
  [/((?:Bearer|Basic)\s+)[^\s"\\]+/gi, `$1${REDACTED}`],
  // JSON fields that hold a secret, whatever their value.
  [/("(?:authorization|cookie|x-amz-security-token|x-amz-signature|x-amz-credential|secretAccessKey|sessionToken|password)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`]
]

/** Removes signatures, credentials and tokens from a log line. */
export function scrubSecrets (line: string): string {
  let scrubbed = line
  for (const [pattern, replacement] of SECRETS) scrubbed = scrubbed.replace(pattern, replacement)
  return scrubbed
}

export interface LogSink {
  write: (line: string) => unknown
}

/** Fastify's logger settings: the level, and a stream that scrubs each line before `sink` (stdout) sees it. */
export function loggerOptions (level: LogLevel, sink: LogSink = process.stdout): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    stream: { write: (line: string) => sink.write(scrubSecrets(line)) }
  }
}
