/**
 * The scan layer: finds LLM provider keys in files (`keyflip scan`), reporting fingerprints, never keys.
 * Imports only the core. Not a package entry point (yet): the CLI is its one user.
 */
export {
  BINARY_SNIFF_BYTES,
  MAX_FILE_BYTES,
  SKIPPED_DIRECTORIES,
  scanPaths,
  type ScanFinding,
  type ScanOptions,
  type ScanResult,
  type ScanSkipReason,
} from './scan-paths.js';
export { IGNORE_FILE, loadAllowLists, parseAllowList, readAllowList, type ReadAllowListOptions } from './allow-list.js';
export { locateProviderKeys, type KeyLocation } from './key-locations.js';
