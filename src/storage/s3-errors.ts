// What went wrong with an S3 call, decided in one place: S3 answered with an
// HTTP status (and maybe an error code), the call timed out, or the network
// failed before any answer.

export interface S3Error {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string | undefined> }
}

/** The HTTP status S3 answered with, or undefined when no answer came. */
export function s3Status (error: unknown): number | undefined {
  return (error as S3Error).$metadata?.httpStatusCode
}

/** S3's error code (NoSuchKey, AccessDenied, SignatureDoesNotMatch…), or 'unknown' when the answer had none (a HEAD's). */
export function s3Code (error: unknown): string {
  const { name, code } = error as S3Error & { Code?: string }
  const given = (error as { Code?: string }).Code ?? code ?? name
  return given === undefined || given === 'Unknown' || given === 'UnknownError' || given === 'Error' ? 'unknown' : given
}

/** The answer's headers, when S3 answered (validators of a 304 or 412). */
export function s3Headers (error: unknown): Record<string, string | undefined> {
  return (error as S3Error).$response?.headers ?? {}
}

/**
 * The SDK's credential chain found nothing to sign with (no keys, profile or
 * role): this instance's setup, which no retry fixes. Told by the error's
 * name, which the SDK gives every failure of its providers.
 */
export function isMissingCredentials (error: unknown): boolean {
  return (error as S3Error | undefined)?.name === 'CredentialsProviderError'
}

/** A metrics label: `timeout`, `network`, `credentials` (none found), or S3's status (`403`, `500`…). */
export type S3FailureKind = 'timeout' | 'network' | 'credentials' | `${number}`

export function s3FailureKind (error: unknown): S3FailureKind {
  const status = s3Status(error)
  if (status !== undefined) return `${status}`
  if (isMissingCredentials(error) || (error as S3Error).code === 'STORAGE_CREDENTIALS_MISSING') return 'credentials'
  const { name, code } = error as S3Error
  // The SDK names a reset connection a TimeoutError too (so that it is retried); it is not one.
  if ((name === 'TimeoutError' || name === 'AbortError') && code !== 'ECONNRESET' && code !== 'EPIPE') return 'timeout'
  return 'network'
}

/** Why no answer came (a timeout, a refused or reset connection), without the SDK's stack. */
export function describeNoAnswer (error: unknown): string {
  if (s3FailureKind(error) === 'timeout') return 'no answer in time'
  const { code, message } = error as S3Error
  return [code, message].filter((part) => part !== undefined && part !== '').join(': ')
}
