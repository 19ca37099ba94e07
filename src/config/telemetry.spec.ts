import { DEFAULT_SERVICE_NAME, tracingConfig } from './telemetry';

describe('tracingConfig', () => {
  it('is off without an OTLP endpoint, or with the SDK disabled', () => {
    expect(tracingConfig({})).toBeNull();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeNull();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
  });

  it('is on with the endpoint or the traces endpoint, naming the service unless OTEL_SERVICE_NAME does', () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({ serviceName: DEFAULT_SERVICE_NAME });
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_SDK_DISABLED: 'false' })).toEqual({
      serviceName: DEFAULT_SERVICE_NAME,
    });
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SERVICE_NAME: 'flows-eu' })).toEqual({ serviceName: undefined });
  });
});
