// dist/cjs holds CommonJS inside a "type": "module" package: say so for Node.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
