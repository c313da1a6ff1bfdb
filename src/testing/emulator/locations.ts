import { GrpcCode } from '../../sources/gcp-names.js';
import { invalidName, permissionDenied, RpcError } from './status.js';

/**
 * The Locations mixin (google.cloud.location.Locations) as Secret Manager serves it:
 * - projects.locations.list, `GET /v1/{name=projects/*}/locations`: "Lists information about the supported
 *   locations for this service", with `filter` (AIP-160, e.g. "displayName=tokyo"), `pageSize` ("If not set,
 *   the service selects a default") and `pageToken` / `nextPageToken`.
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.locations/list
 * - projects.locations.get, `GET /v1/{name=projects/*\/locations/*}`: "Gets information about a location."
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.locations/get
 * The emulator's locations are `global` and the regions below, where regional secrets are offered (the
 * location list of the projects.locations.secrets reference pages). The store refuses a regional secret in any
 * other location, `global` included (store.ts, SecretStore.checkLocation): a fixed list, the same for every
 * project, a subset of https://cloud.google.com/secret-manager/docs/locations.
 */

type Obj = Record<string, unknown>;

/** Region → display name (the city), as the Location resource's `displayName`. */
export const EMULATOR_REGIONS: Readonly<Record<string, string>> = {
  'asia-east1': 'Taiwan',
  'asia-northeast1': 'Tokyo',
  'asia-south1': 'Mumbai',
  'asia-southeast1': 'Singapore',
  'australia-southeast1': 'Sydney',
  'europe-west1': 'Belgium',
  'europe-west2': 'London',
  'europe-west3': 'Frankfurt',
  'europe-west4': 'Netherlands',
  'europe-west6': 'Zurich',
  'europe-west8': 'Milan',
  'europe-west9': 'Paris',
  'me-central2': 'Dammam',
  'me-west1': 'Tel Aviv',
  'northamerica-northeast1': 'Montréal',
  'southamerica-east1': 'São Paulo',
  'us-central1': 'Iowa',
  'us-east1': 'South Carolina',
  'us-east4': 'Northern Virginia',
  'us-east5': 'Columbus',
  'us-south1': 'Dallas',
  'us-west1': 'Oregon',
  'us-west2': 'Los Angeles',
  'us-west3': 'Salt Lake City',
  'us-west4': 'Las Vegas',
};

const ALL: ReadonlyArray<readonly [string, string]> = [
  ['global', 'Global'],
  ...Object.entries(EMULATOR_REGIONS).sort(([a], [b]) => a.localeCompare(b)),
];
const DEFAULT_PAGE = 100;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const invalid = (message: string): RpcError => new RpcError(GrpcCode.INVALID_ARGUMENT, message);

/** One `field=value` or `field:value` term of an AIP-160 filter, over a Location. */
type Term = { field: string; value: string };

function parseLocationFilter(filter: string): Term[] {
  const trimmed = filter.trim();
  if (trimmed === '') return [];
  return trimmed.split(/\s+AND\s+/).map((part) => {
    const m = /^([A-Za-z_][A-Za-z0-9_.\-/]*)\s*[:=]\s*(?:"([^"]*)"|(\S+))$/.exec(part.trim());
    if (!m) throw invalid(`Invalid filter: ${filter}`);
    return { field: m[1] as string, value: (m[2] ?? m[3]) as string };
  });
}

function fieldOf(location: Obj, field: string): string | undefined {
  if (field.startsWith('labels.')) return (location.labels as Record<string, string>)[field.slice(7)];
  const key = field === 'location_id' ? 'locationId' : field === 'display_name' ? 'displayName' : field;
  const value = location[key];
  return typeof value === 'string' ? value : undefined;
}

export class Locations {
  constructor(
    private readonly projectId: string,
    private readonly projectNumber: string,
  ) {}

  handle(method: string, request: Obj): Obj | undefined {
    if (method === 'ListLocations') return this.list(request);
    if (method === 'GetLocation') return this.get(request);
    return undefined;
  }

  private checkProject(project: string, permission: string, resource: string): void {
    if (project !== this.projectId && project !== this.projectNumber) throw permissionDenied(permission, resource);
  }

  private location(project: string, id: string, displayName: string): Obj {
    return {
      name: `projects/${project}/locations/${id}`,
      locationId: id,
      displayName,
      labels: id === 'global' ? {} : { 'cloud.googleapis.com/region': id },
    };
  }

  private list(request: Obj): Obj {
    const name = str(request.name);
    const m = /^projects\/([^/]+)$/.exec(name);
    if (!m) throw invalidName();
    const project = m[1] as string;
    this.checkProject(project, 'secretmanager.locations.list', name);
    const terms = parseLocationFilter(str(request.filter));
    const all = ALL.map(([id, display]) => this.location(project, id, display)).filter((loc) =>
      terms.every((t) => fieldOf(loc, t.field)?.toLowerCase() === t.value.toLowerCase()),
    );
    const size = Number(request.pageSize ?? 0);
    if (!Number.isInteger(size) || size < 0) throw invalid('page_size must be a non-negative integer.');
    const token = str(request.pageToken);
    const start = token === '' ? 0 : /^\d{1,9}$/.test(token) ? Number(token) : Number.NaN;
    if (Number.isNaN(start) || start > all.length) throw invalid(`Invalid page token [${token}].`);
    const limit = size === 0 ? DEFAULT_PAGE : size;
    const page = all.slice(start, start + limit);
    return { locations: page, nextPageToken: start + limit < all.length ? String(start + limit) : '' };
  }

  private get(request: Obj): Obj {
    const name = str(request.name);
    const m = /^projects\/([^/]+)\/locations\/([^/]+)$/.exec(name);
    if (!m) throw invalidName();
    const [, project, id] = m as unknown as [string, string, string];
    this.checkProject(project, 'secretmanager.locations.get', name);
    const found = ALL.find(([known]) => known === id);
    if (!found) throw new RpcError(GrpcCode.NOT_FOUND, `Location ${name} not found.`);
    return this.location(project, found[0], found[1]);
  }
}
