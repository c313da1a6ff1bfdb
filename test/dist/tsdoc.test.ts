import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { entries } from '../../tsup.config.js';

/**
 * The options a user passes are documented where their editor shows it: every property of every `*Options` type that
 * a public entry point exports has TSDoc (a sentence, not only a tag); an optional one names its default (`@default`
 * or `@defaultValue`); a number whose name does not carry its unit (`timeoutMs`, `maxBytes`, `retryCount`) says it.
 */
const root = resolve(import.meta.dirname, '../..');
const src = join(root, 'src') + sep;

/** Name endings that carry the unit of a number (`port`: a TCP port, `…Code`: a status code). */
const UNIT_IN_NAME = /(?:Ms|Seconds|Bytes|Count|Percent|Fraction|Ratio|Factor|Code|^port|Port)$/;
/** Words by which a doc says the unit of a number: a duration, a size, a count, a proportion, a multiple. */
const UNIT_IN_DOC = new RegExp(
  [
    '\\b(?:ms|milliseconds?|seconds?|minutes?|hours?|days?|bytes?|KiB|MiB|GiB',
    'count|number of|how many|fraction|ratio|percent|times|multiple of|port|status code)\\b|%',
  ].join('|'),
  'i',
);

interface Finding {
  /** `OptionsType.property (src/file.ts)` */
  where: string;
  problem: 'no doc' | 'no @default' | 'no unit';
}

function analyse(): { checked: string[]; findings: Finding[] } {
  const program = ts.createProgram(
    Object.values(entries).map((file) => join(root, file)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    },
  );
  const checker = program.getTypeChecker();
  const options = new Map<string, ts.Symbol>();
  for (const file of Object.values(entries)) {
    const source = program.getSourceFile(join(root, file));
    const module = source && checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`${file} is not a module`);
    for (const exported of checker.getExportsOfModule(module)) {
      if (!exported.name.endsWith('Options')) continue;
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) options.set(exported.name, symbol);
    }
  }

  const findings: Finding[] = [];
  const seen = new Set<ts.Symbol>();
  for (const [name, symbol] of [...options].sort(([a], [b]) => a.localeCompare(b))) {
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    // A union of option shapes (one per mode): the properties of each.
    const shapes = type.isUnion() ? type.types : [type];
    for (const property of shapes.flatMap((shape) => checker.getPropertiesOfType(shape))) {
      const declaration = property.declarations?.[0];
      // Declared in this package (not a Node or SDK type it extends), each property once.
      if (declaration === undefined || !declaration.getSourceFile().fileName.startsWith(src)) continue;
      if (seen.has(property)) continue;
      seen.add(property);
      const where = `${name}.${property.name} (${relative(root, declaration.getSourceFile().fileName)})`;
      const doc = ts.displayPartsToString(property.getDocumentationComment(checker)).trim();
      const tags = property.getJsDocTags(checker);
      if (doc === '') findings.push({ where, problem: 'no doc' });
      const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
      if (optional && !tags.some((tag) => tag.name === 'default' || tag.name === 'defaultValue')) {
        findings.push({ where, problem: 'no @default' });
      }
      const valueType = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(property, declaration));
      const numeric = (valueType.isUnion() ? valueType.types : [valueType]).some(
        (t) => (t.flags & ts.TypeFlags.NumberLike) !== 0,
      );
      const text = [doc, ...tags.map((tag) => ts.displayPartsToString(tag.text))].join(' ');
      if (numeric && !UNIT_IN_NAME.test(property.name) && !UNIT_IN_DOC.test(text)) {
        findings.push({ where, problem: 'no unit' });
      }
    }
  }
  return { checked: [...options.keys()], findings };
}

describe('TSDoc of the public options', () => {
  const { checked, findings } = analyse();

  it('finds the options types of every entry point', () => {
    expect(checked.length).toBeGreaterThan(20);
    expect(checked).toEqual(expect.arrayContaining(['ResolverOptions', 'GcpSecretManagerOptions', 'BeaconOptions']));
  });

  it('every property has a doc, every optional one its @default, every number its unit', () => {
    expect(findings.map((f) => `${f.where}: ${f.problem}`)).toEqual([]);
  });
});
