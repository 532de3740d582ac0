// ESLint flat config: typescript-eslint's recommended, type-aware rules for the shipped code and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.aws-sam/**', 'chart/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // Layers point one way: cli/ and functions/ are adapters over iam-model/ and core/, and neither
  // reaches into the other (nor does the proxy into either); the model imports no adapter.
  ...[
    { files: ['cli/**/*.ts'], forbidden: ['functions', 'proxy'] },
    { files: ['functions/**/*.ts'], forbidden: ['cli', 'proxy'] },
    { files: ['proxy/**/*.ts'], forbidden: ['cli', 'functions', 'iam-model'] },
    { files: ['iam-model/**/*.ts'], forbidden: ['cli', 'functions', 'proxy'] },
    { files: ['core/**/*.ts'], forbidden: ['cli', 'functions', 'proxy', 'iam-model'] },
  ].map(({ files, forbidden }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: forbidden.map((dir) => ({ group: [`**/${dir}/**`, `${dir}/**`], message: `${files[0].split('/')[0]}/ must not import ${dir}/: shared IAM logic lives in iam-model/, shared contracts in core/.` })),
      }],
    },
  })),
);
