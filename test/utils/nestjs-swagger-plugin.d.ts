// `@nestjs/swagger/plugin` is a plain JavaScript entry point re-exporting `dist/plugin`, which has
// the types; the package's `exports` map resolves the former at run time and TypeScript's `node`
// resolution does not see the latter's declarations through it.
declare module '@nestjs/swagger/plugin' {
  export * from '@nestjs/swagger/dist/plugin';
}
