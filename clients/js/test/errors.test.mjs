// The JS error classes cover the server's whole error tree (read from Python).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

import * as sdk from '../dist/esm/index.js';

const PY = `
import json
from autoscorer import errors as e
out = {}
for cls in e._all_subclasses(e.AutoScorerError):
    out[cls.code] = [getattr(a, "code", None) for a in cls.__mro__ if hasattr(a, "code")]
print(json.dumps(out))
`;

test('every server error code maps to the class of its nearest known ancestor', () => {
  const tree = JSON.parse(execFileSync(process.env.PYTHON ?? 'python3', ['-c', PY], { encoding: 'utf8' }));
  const known = new Set(Object.values(sdk).filter((v) => v?.defaultCode).map((c) => c.defaultCode));
  for (const [code, ancestors] of Object.entries(tree)) {
    const expected = ancestors.find((c) => known.has(c));
    assert.equal(sdk.errorClass(code, 200).defaultCode, expected, code);
  }
});

test('errors carry code, message, field, details and requestId', () => {
  const err = new sdk.ScorerNotFound('no scorer x', { field: 'scorer', details: { available: ['a'] }, requestId: 'r1', status: 404 });
  assert.ok(err instanceof sdk.ResourceNotFound && err instanceof sdk.APIError && err instanceof Error);
  assert.equal(err.code, 'SCORER_NOT_FOUND');
  assert.equal(err.name, 'ScorerNotFound');
  assert.deepEqual([err.field, err.details.available[0], err.requestId, err.status], ['scorer', 'a', 'r1', 404]);
});

test('an unknown code falls back on the HTTP status', () => {
  assert.equal(sdk.errorClass('BRAND_NEW', 404), sdk.ResourceNotFound);
  assert.equal(sdk.errorClass(undefined, 418), sdk.APIError);
});

test('the CommonJS build exports the same names', async () => {
  const { createRequire } = await import('node:module');
  const cjs = createRequire(import.meta.url)('../dist/cjs/index.js');
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(sdk).sort());
  assert.equal(typeof new cjs.AutoScorerClient().submitJob, 'function');
});
