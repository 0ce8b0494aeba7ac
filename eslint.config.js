// ESLint 9 flat config: JavaScript and typescript-eslint recommended rules (syntax-based, so `npm run lint`
// stays quick), tuned to this codebase's idioms. Formatting is not linted: there is no formatter run over
// the tree, and style is kept by review.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'src/generated/', 'var/', 'coverage/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { WebAssembly: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', AbortController: 'readonly', Response: 'readonly', Headers: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', btoa: 'readonly', atob: 'readonly', queueMicrotask: 'readonly', Blob: 'readonly', FormData: 'readonly', Request: 'readonly', AbortSignal: 'readonly', ReadableStream: 'readonly', WritableStream: 'readonly', TransformStream: 'readonly', File: 'readonly', crypto: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `let x; ... x = start()` where a signal handler may read x first is deliberate.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `cond ? a++ : b++` tallies are an accepted idiom here.
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true, allowShortCircuit: true }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // Tests and scripts poke at untyped wire data (JSON lines, YAML documents).
    files: ['test/**', 'scripts/**', 'bench/**', 'packages/*/test/**'],
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
