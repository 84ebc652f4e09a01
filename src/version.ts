// The service's version, from package.json, read once: the OpenAPI document
// and the build-info metric name it.
import { readFileSync } from 'node:fs'
import { projectFile } from './project-files.js'

export const SERVICE_VERSION = (JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as { version: string }).version
