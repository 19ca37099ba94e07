// The module a JSON worker thread loads for the flows' work (JsonWorkers.run): its exports are the tasks it runs.
export { checkDefinition, deriveDefinition } from './definition-check';
