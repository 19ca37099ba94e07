// The module a JSON worker thread loads (JsonWorkers): its exports are the tasks it runs.
export { parseBody, validateJson } from './json-work';
