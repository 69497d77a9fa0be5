/**
 * snake_case on the wire, camelCase in JavaScript.
 *
 * Objects whose keys are data rather than field names (metrics, details, config,
 * parameters, ...) are passed through untouched in both directions, so a metric
 * stays `metrics.f1_macro` and a scorer parameter keeps its exact name.
 */

const OPAQUE = new Set([
  'metrics',
  'details',
  'config',
  'parameters',
  'scorer_params',
  'scorerParams',
  'components',
  'changes',
  'structure',
  'artifacts',
  'label_mapping',
  'labelMapping',
  'expected_output',
  'expectedOutput',
  'data_types',
  'dataTypes',
]);

type Json = unknown;

export function toCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function toSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function convert(value: Json, rename: (k: string) => string): Json {
  if (Array.isArray(value)) return value.map((v) => convert(v, rename));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, Json> = {};
  for (const [key, v] of Object.entries(value as Record<string, Json>)) {
    out[rename(key)] = OPAQUE.has(key) ? v : convert(v, rename);
  }
  return out;
}

/** Response data from the server, keys in camelCase. */
export function camelize<T>(value: Json): T {
  return convert(value, toCamel) as T;
}

/** A request body for the server, keys in snake_case; undefined entries dropped. */
export function snakify(value: Json): Json {
  return JSON.parse(JSON.stringify(convert(value, toSnake)));
}
