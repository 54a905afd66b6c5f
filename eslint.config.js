// One linter: typescript-eslint's recommended rules over the library, its tests, benchmarks and
// examples. Formatting is Prettier's job (npm run format:check), so no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { console: 'readonly', process: 'readonly' } },
    rules: {
      // Unused arguments named with a leading underscore are placeholders of a signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // TypeScript checks names itself (and knows Node's and the DOM's globals).
      'no-undef': 'off',
    },
  },
  {
    // The architecture, checked: a layer imports no layer (what two layers share lives in
    // src/pipeline or src/policy), and neither layers nor the pure policy code reach into the transport.
    files: ['src/layers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['./*'], message: 'a layer imports no layer: share it through src/pipeline or src/policy' },
            { group: ['../transport/*'], message: 'layers do not reach into the transport' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/policy/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../layers/*', '../transport/*', '../pipeline/*'],
              message: 'policy code is pure: no layer, pipeline or transport',
            },
          ],
        },
      ],
    },
  },
);
