import { InvalidGameId } from './errors.js'

const MAX_DIGITS = String(Number.MAX_SAFE_INTEGER).length

/**
 * A game id as the contract writes it: plain decimal digits, no sign, leading
 * zero, exponent, point or space, from 1 to 2^53 - 1. Kept as a string so it
 * reaches the bigint column exactly.
 */
export function parseGameId (raw: string): string {
  // The length check comes first so a huge id is never converted to a number.
  if (raw.length > MAX_DIGITS || !/^[1-9][0-9]*$/.test(raw) || Number(raw) > Number.MAX_SAFE_INTEGER) {
    throw new InvalidGameId()
  }
  return raw
}
