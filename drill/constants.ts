/** The names and places every part of the drill agrees on. */
import { fileURLToPath } from 'node:url';

/** The repository's root (the drill runs `keyflip rotate` and the workers from there). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The worker process's module (run with `--import tsx`). */
export const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** The straggler's module (drill/straggler.ts): a process keyflip does not run, without a beacon. */
export const STRAGGLER = fileURLToPath(new URL('./straggler.ts', import.meta.url));
/** The secret the apps declare and the playbook rotates. */
export const SECRET = 'OPENAI_API_KEY';
/** The Secret Manager project (the emulator's). */
export const PROJECT = 'keyflip-drill';
/** The OpenAI project the mock provider's management API serves (`--provider-project`). */
export const PROVIDER_PROJECT = 'proj_keyflipdrill';
/** The beacon's `service` of the live workers, and of the stale one. */
export const LIVE_SERVICE = 'drill-app';
export const STALE_SERVICE = 'drill-legacy-app';
/** The workers' niceness (a lower priority than the drill's services and the operator's commands). */
export const WORKER_NICE = 10;
