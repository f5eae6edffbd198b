// Four suites: engine unit tests (no HTTP), e2e over real HTTP, crash tests that SIGKILL a real process, power cuts.
const tsJest = [
  'ts-jest',
  {
    tsconfig: 'test/tsconfig.json',
    // TS151002 only warns that hybrid module kinds want isolatedModules; the Swagger plugin needs full type info.
    diagnostics: { ignoreCodes: [151002] },
    // Same Swagger plugin as `nest build`, so the document served in tests equals the built one.
    astTransformers: {
      before: ['<rootDir>/test/support/swagger-transformer.js'],
    },
  },
];
const common = { transform: { '^.+\\.ts$': tsJest }, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json'] };
module.exports = {
  // Jest's 5 s default fails tests that only waited for a CPU: CI and the fresh-machine run share 2 cores (seen at a
  // load of 15-18). A hung test still fails, after 30 s.
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'crash', testMatch: ['<rootDir>/test/crash/**/*.crash-spec.ts'] },
    // Real broker processes on a lazyfs FUSE mount that drops unsynced data at a simulated power cut.
    { ...common, displayName: 'powercut', testMatch: ['<rootDir>/test/powercut/**/*.powercut-spec.ts'] },
  ],
};
