/**
 * A small JSON Schema checker for the vendored provider schemas (test/testing/fixtures/*-management.json): type,
 * enum, anyOf, oneOf, properties, required, items, lengths, bounds, date-time, and `$ref` into the fixture.
 * Strict: an object may carry only the properties its schema documents, so the mock sends nothing undocumented.
 */
type Schema = Record<string, unknown>;

/** What is wrong with `value` against `schema` (empty when it conforms), each with its JSON path. */
export function schemaErrors(schema: Schema, value: unknown, schemas: Record<string, Schema>, path = '$'): string[] {
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const target = schemas[ref.split('/').pop() as string];
    if (target === undefined) return [`${path}: unknown $ref ${ref}`];
    return schemaErrors(target, value, schemas, path);
  }
  if (Array.isArray(schema.anyOf)) {
    const all = (schema.anyOf as Schema[]).map((s) => schemaErrors(s, value, schemas, path));
    return all.some((e) => e.length === 0) ? [] : [`${path}: matches no anyOf branch (${all.flat().join('; ')})`];
  }
  if (Array.isArray(schema.oneOf)) {
    const all = (schema.oneOf as Schema[]).map((s) => schemaErrors(s, value, schemas, path));
    const matching = all.filter((e) => e.length === 0).length;
    return matching === 1 ? [] : [`${path}: matches ${matching} oneOf branches (${all.flat().join('; ')})`];
  }
  const errors: string[] = [];
  const type = schema.type;
  if (typeof type === 'string' && !hasType(type, value))
    return [`${path}: expected ${type}, got ${JSON.stringify(value)}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${path}: too long`);
    if (schema.format === 'date-time' && !isDateTime(value)) errors.push(`${path}: not an RFC 3339 date-time`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (Array.isArray(value) && typeof schema.items === 'object' && schema.items !== null) {
    value.forEach((item, i) => {
      errors.push(...schemaErrors(schema.items as Schema, item, schemas, `${path}[${i}]`));
    });
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in value)) errors.push(`${path}: missing required ${name}`);
    }
    for (const [name, item] of Object.entries(value)) {
      const property = properties[name];
      if (property === undefined) {
        if (schema.properties !== undefined) errors.push(`${path}: undocumented property ${name}`);
      } else errors.push(...schemaErrors(property, item, schemas, `${path}.${name}`));
    }
  }
  return errors;
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

function isDateTime(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}
