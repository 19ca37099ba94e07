import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { PluginMetadataGenerator } from '@nestjs/cli/lib/compiler/plugins/plugin-metadata-generator';
import { HTTP_CODE_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { ApiResponse, SwaggerModule } from '@nestjs/swagger';
import { ReadonlyVisitor } from '@nestjs/swagger/plugin';
import nestCli from '../../nest-cli.json';

const root = resolve(__dirname, '../..');

/**
 * Tests only transpile, so the Swagger CLI plugin that `nest build` runs never sees the DTOs. This
 * runs the same plugin, with nest-cli.json's options, over src/ and loads what it finds, so that
 * the test app serves the document production serves. Call it before creating the app.
 */
export async function loadSwaggerPluginMetadata(): Promise<void> {
  const outputDir = mkdtempSync(join(tmpdir(), 'swagger-metadata-'));
  try {
    const options = nestCli.compilerOptions.plugins.find((p) => p.name === '@nestjs/swagger')!.options;
    new PluginMetadataGenerator().generate({
      visitors: [new ReadonlyVisitor({ ...options, pathToSource: join(root, 'src') })],
      outputDir,
      watch: false,
      tsconfigPath: relative(process.cwd(), join(root, 'tsconfig.build.json')),
      printDiagnostics: false,
    });
    // The generated module imports the DTOs relative to src/; point it there and load it through Jest's registry.
    const source = readFileSync(join(outputDir, 'metadata.ts'), 'utf8').replace(/import\("\.\//g, `import("${join(root, 'src')}/`);
    const { outputText } = (await import('typescript')).transpileModule(source, { compilerOptions: { module: 1, target: 9 } });
    const module = { exports: {} as { default: () => Promise<Record<string, unknown>> } };
    new Function('module', 'exports', 'require', outputText)(module, module.exports, require);
    await SwaggerModule.loadPluginMetadata(module.exports.default);
    await addResponseTypes(module.exports.default);
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

type ControllerMetadata = [Promise<Record<string, { prototype: Record<string, object> }>>, Record<string, Record<string, Record<string, unknown>>>][];

/**
 * The loaded metadata skips a method's inferred response when the method has any `@ApiResponse`
 * (ApiErrors, here), and its summary when it has an `@ApiOperation`, while the compiled plugin
 * adds both beside them; add them the same way.
 */
async function addResponseTypes(metadata: () => Promise<Record<string, unknown>>): Promise<void> {
  const { controllers } = (await metadata())['@nestjs/swagger'] as { controllers?: ControllerMetadata };
  for (const [file, classes] of controllers ?? []) {
    const exports = await file;
    for (const [className, methods] of Object.entries(classes)) {
      const prototype = exports[className].prototype;
      // `description` is the operation's (a `@remarks` tag), not the response's.
      for (const [key, { summary, description: _description, deprecated: _deprecated, tags: _tags, ...response }] of Object.entries(methods)) {
        const method = prototype[key];
        const operation = Reflect.getMetadata('swagger/apiOperation', method) as Record<string, unknown> | undefined;
        if (operation && !operation.summary && summary) Reflect.defineMetadata('swagger/apiOperation', { ...operation, summary }, method);
        const status = Reflect.getMetadata(HTTP_CODE_METADATA, method) ?? (Reflect.getMetadata(METHOD_METADATA, method) === 1 ? 201 : 200);
        const existing = Reflect.getMetadata('swagger/apiResponse', method) as Record<string, unknown> | undefined;
        if (existing?.[status]) continue;
        ApiResponse({ status, ...response })(prototype, key, Object.getOwnPropertyDescriptor(prototype, key)!);
      }
    }
  }
}
