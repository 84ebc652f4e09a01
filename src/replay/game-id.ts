// A game id as the contract writes it: plain decimal digits, no sign, leading
// zero, exponent, point or space, from 1 to 2^53 - 1. The whole rule is one
// pattern, checked once by the routes' schema (and shown in /openapi.json); a
// valid id stays a string, so it reaches the bigint column exactly.

/**
 * A regular expression source for the decimals from 1 to `max`, written
 * without leading zeros: the shorter numbers, then for each digit of `max`
 * the numbers that share its first digits and are smaller at that one.
 */
export function decimalsUpTo (max: string): string {
  const alternatives = max.length > 1 ? [`[1-9][0-9]{0,${max.length - 2}}`] : []
  for (let at = 0; at < max.length; at++) {
    const low = at === 0 ? 1 : 0
    const below = Number(max[at]) - 1
    if (below < low) continue
    const rest = max.length - at - 1
    alternatives.push(`${max.slice(0, at)}${below === low ? String(low) : `[${low}-${below}]`}${rest > 0 ? `[0-9]{${rest}}` : ''}`)
  }
  alternatives.push(max)
  return `^(?:${alternatives.join('|')})$`
}

export const GAME_ID_PATTERN = decimalsUpTo(String(Number.MAX_SAFE_INTEGER))

const GAME_ID = new RegExp(GAME_ID_PATTERN, 'u')

export function isGameId (raw: string): boolean {
  return GAME_ID.test(raw)
}
