import { ConfigError, parseConfig, type Env } from '../../src/config/index.js'

/** The problems parseConfig reports for these settings; throws if it accepts them. */
export function problemsOf (env: Env): string[] {
  try {
    parseConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}
