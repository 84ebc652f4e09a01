// The service's version, from package.json, read once: the OpenAPI document
// and the build-info metric name it. The same relative path from src/ and dist/.
import { readFileSync } from 'node:fs'

export const SERVICE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
