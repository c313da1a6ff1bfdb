// @ts-check
/**
 * One thread of a flood (started by flood.ts): posts `count` valid `keyflip.beacon/v1` reports to a collector on
 * 127.0.0.1, each from a fresh instance id, `concurrency` at a time, and stops by itself when it has sent them or
 * at `deadline` (ms since the epoch), whichever comes first. The body is built once; each request writes its own
 * number into the instance id (and, for `max`, into every secret name) of a copy per slot in flight.
 *
 * Shapes: `small` is one secret (`secret`, `fingerprint`); `max` is 1 000 secrets with long fields, about
 * 0.9 MiB, the largest a collector accepts (BEACON_LIMITS). Posts to 127.0.0.1 only. Answers with the
 * count by HTTP status, the connection errors, and the first refusal (429) it got, body and Retry-After.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ port: number, token: string, count: number, deadline: number, concurrency: number,
 *   shape: 'small' | 'max', thread: number, secret: string, fingerprint: string }} */
const job = workerData;
const MARK = '@@@@@@@@@';
const NOW = Date.now();

/** @param {string} text @param {number} n @param {string} [fill] */
const pad = (text, n, fill = 'x') => (text.length >= n ? text.slice(0, n) : text + fill.repeat(n - text.length));

/** The report, with MARK where each request writes its number. */
function template() {
  const secrets =
    job.shape === 'small'
      ? [
          {
            name: job.secret,
            candidate: `${job.secret}_v2`,
            source: 'memory',
            version: '2',
            fingerprint: job.fingerprint,
            loadedAt: NOW,
            uses: 1,
            status: 'ok',
          },
        ]
      : Array.from({ length: 1_000 }, (_, i) => ({
          // Limits: name 256, candidate 512, source 100, version 128 characters.
          name: pad(`FLOOD_${job.thread}_${i}_${MARK}_`, 230, 'N'),
          candidate: pad(`gcp:projects/flood/secrets/FLOOD_${i}@`, 370, '7'),
          source: pad('flood-source-', 80),
          version: pad(`${i}`, 100, '9'),
          fingerprint: `kf_${i.toString(16).padStart(12, '0')}`,
          loadedAt: NOW,
          lastUsedAt: NOW,
          uses: 1 + i,
          status: 'ok',
        }));
  return JSON.stringify({
    schema: 'keyflip.beacon/v1',
    sentAt: NOW,
    service: 'flood',
    instance: {
      id: `flood-${job.thread}-${MARK}`,
      host: 'flood.invalid',
      pid: 1,
      startedAt: NOW,
      runtime: 'node flood',
      keyflip: '0.0.0-flood',
    },
    intervalMs: 1_000,
    secrets,
  });
}

const body = Buffer.from(template(), 'latin1');
/** @type {number[]} */
const marks = [];
for (let at = body.indexOf(MARK); at !== -1; at = body.indexOf(MARK, at + MARK.length)) marks.push(at);

const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
/** @type {Record<string, number>} */
const byStatus = {};
let errors = 0;
let sent = 0;
/** @type {{ status: number, body: string, retryAfter: string | undefined } | undefined} */
let refusal;

/** @param {Buffer} buffer @returns {Promise<void>} */
function post(buffer) {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: job.port,
        method: 'POST',
        path: '/v1/beacons',
        agent,
        timeout: 15_000,
        headers: {
          authorization: `Bearer ${job.token}`,
          'content-type': 'application/json',
          'content-length': buffer.length,
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (chunk) => {
          if (status === 429 && refusal === undefined) chunks.push(chunk);
        });
        res.on('end', () => {
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          if (status === 429 && refusal === undefined) {
            const retryAfter = res.headers['retry-after'];
            refusal = { status, body: Buffer.concat(chunks).toString('utf8'), retryAfter };
          }
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(buffer);
  });
}

async function slot() {
  const buffer = Buffer.from(body); // its own copy: another request may still be writing the template
  while (sent < job.count && Date.now() < job.deadline) {
    const n = String(sent++).padStart(MARK.length, '0');
    for (const at of marks) buffer.write(n, at, 'latin1');
    await post(buffer);
  }
}

await Promise.all(Array.from({ length: job.concurrency }, slot));
agent.destroy();
parentPort?.postMessage({ sent, byStatus, errors, refusal, bodyBytes: body.length });
