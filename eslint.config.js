// ESLint: the recommended sets of ESLint and typescript-eslint (type-aware, through the same
// tsconfig.json that `npm run typecheck` uses), minus the rules that fight how this code is written
// on purpose. Formatting is Prettier's (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig([
  // .gitignore's directories, plus what programs write: benchmark results. Workflow bundles are
  // written to the OS temp directory (test/global-setup.ts) or kept in memory, never into the tree.
  globalIgnores(['node_modules/', '.data/', '**/dist/', 'bench/results/']),
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits must say so with `void`; an unhandled rejection stops the process.
      '@typescript-eslint/no-floating-promises': 'error',
      // verbatimModuleSyntax already demands `type` on imports of pure types; this also catches a class
      // imported only as a type, and `import('x').T` annotations. `type` inline, as the code writes it.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],

      // Rows from pg, parsed JSON (hostile frames, HTTP bodies in tests) and caught errors are `any`
      // on purpose: each is checked or mapped once where it enters (toRule, toClaimed, the update
      // validator). The no-unsafe-* rules flag every field read at those boundaries (about 390 places).
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Async functions without await are how a callback meets a Promise-returning contract (Coalescer
      // send, readiness probe, eventually(), fastify handlers).
      '@typescript-eslint/require-await': 'off',
      // String(x) of an unknown value is deliberate where hostile input or a caught value is reported,
      // and ws hands text frames over as Buffers although its type also allows ArrayBuffer.
      '@typescript-eslint/no-base-to-string': 'off',
      // Objects built from closures declare their functions in method syntax (`stop(): Promise<void>`)
      // and pass them around (`stops.push(pg.stop)`); none of them uses `this`.
      '@typescript-eslint/unbound-method': 'off',

      // A leading underscore marks a parameter or binding that is unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let gw; ...closure reads gw...; gw = new Gateway()`: declared early so a closure can see it.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Passing on what a catch caught, whatever it is, is not inventing a non-Error rejection.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
  },
  {
    // The example workbench is a plain browser module script: the browser's globals it uses.
    files: ['examples/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['addEventListener', 'document', 'history', 'localStorage', 'location', 'sessionStorage', 'setInterval'].map(
          (name) => [name, 'readonly'],
        ),
      ),
    },
  },
]);
