// Three suites: engine unit tests (no HTTP), e2e over real HTTP, crash tests that SIGKILL a real process.
const tsJest = [
  'ts-jest',
  {
    tsconfig: 'test/tsconfig.json',
    // Same Swagger plugin as `nest build`, so the document served in tests equals the built one.
    astTransformers: {
      before: [
        {
          path: '@nestjs/swagger/plugin',
          options: { introspectComments: true, classValidatorShim: true },
        },
      ],
    },
  },
];
const common = { transform: { '^.+\\.ts$': tsJest }, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json'] };
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'crash', testMatch: ['<rootDir>/test/crash/**/*.crash-spec.ts'] },
  ],
};
