// ESLint flat config: typescript-eslint's type-checked rules, Prettier for layout, and the
// architecture's boundaries as rules that fail the lint (docs/architecture.md explains them).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** `vscode` is the extension's alone: everything else must run in a plain Node process or a browser. */
const noVscode = { name: 'vscode', message: 'Only src/extension/ (and the real-editor tests) may import vscode.' };

/** Who may not import whom; paths resolved by the TypeScript resolver, so `..` tricks do not slip by. */
const coreBoundary = {
  target: './src/core',
  from: ['./src/cli', './src/worker', './src/extension', './src/report', './src/shared', './webview-ui', './test', './bench'],
  message: 'src/core/ is the engine: it imports nothing outside src/core/.',
};
const boundaries = [
  {
    target: ['./src/cli', './src/worker', './src/report', './src/shared'],
    from: './src/extension',
    message: 'The CLI, the worker, the report and the shared protocols never import the VS Code layer.',
  },
  {
    target: './webview-ui/src',
    from: './src',
    except: ['./shared', './core/results/format.ts'],
    message: 'The webview imports only the shared protocols (src/shared/) and the results types (src/core/results/format.ts).',
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'demo-output/**',
      'bench-results/**',
      'artifacts/**',
      '**/*.js',
      '**/*.mjs',
      '!eslint.config.mjs',
      '!scripts/**/*.mjs',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Without these, import-x parses no .ts file and its cycle check sees nothing.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.json', 'webview-ui/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: boundaries }],
      'import-x/no-default-export': 'error',
      'no-restricted-imports': ['error', { paths: [noVscode] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Protobuf messages (ONNX) carry enum fields as plain numbers, compared with the generated enums.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // Shapes and counts in messages (`[${shape}]`) read as intended; objects ("[object Object]") do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowArray: true, allowNullish: true, allowNever: true },
      ],
    },
  },
  {
    // Functions a person can read at once: long ones are split into named steps.
    files: ['**/*.ts'],
    ignores: ['**/*.test.ts', 'test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  {
    // The engine's own code; its tests beside it may use the test kits and fixtures in test/.
    files: ['src/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: [...boundaries, coreBoundary] }] },
  },
  {
    files: ['src/extension/**/*.ts', 'test/vscode/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The webview's tests and test page run in Node: their own tsconfig has Node's types.
    files: ['webview-ui/*.ts', 'webview-ui/src/**/*.test.ts'],
    languageOptions: { parserOptions: { projectService: false, project: ['webview-ui/tsconfig.test.json'] } },
  },
  {
    // node:test's test() and describe() return promises the runner awaits itself.
    // Tests also read parsed JSON (CLI output, results files) whose shape the assertions check.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Test doubles and fixtures: async signatures that match what they stand in for, casts that document intent.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Functions it hands to the browser (page.evaluate) run in the workbench's page.
    files: ['scripts/vscode-test.mjs'],
    languageOptions: { globals: { ...globals.browser } },
  },
  prettier,
);
