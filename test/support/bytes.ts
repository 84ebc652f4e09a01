import { createHash } from 'node:crypto'

/** The SHA-256 of a body, in hex: two downloads compare by it. */
export function sha256 (data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}
