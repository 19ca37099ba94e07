import type { TestApp } from '../utils/create-test-app';
import { newOrg } from '../utils/tokens';

type Auth = () => Record<string, string>;

export interface TaskSpec {
  name: string;
  task_executor_name?: string;
  parameters?: Record<string, unknown>;
}

export function definitionOf(tasks: TaskSpec[]) {
  return {
    flow: { author_uuid: '', created_at: '' },
    flow_configs: [
      {
        config: {
          groups: [],
          notes: [],
          tasks: tasks.map((t) => ({ task_executor_name: 'receive_file', parameters: {}, ...t, task_title: t.name })),
        },
        meta: { name: 'test flow', description: '' },
      },
    ],
  };
}

/** receive_file → extract → review: one input task, two downstream tasks. */
export const LINEAR_TASKS: TaskSpec[] = [
  { name: 'receive', task_executor_name: 'receive_file' },
  { name: 'extract', task_executor_name: 'doc_to_structured', parameters: { document_url: '{{receive.document_url}}' } },
  { name: 'review', task_executor_name: 'human_review', parameters: { data: '{{extract.output}}' } },
];

export async function createFlow(t: TestApp, auth: Auth, tasks: TaskSpec[] = LINEAR_TASKS, displayName = 'Invoices'): Promise<string> {
  const res = await t
    .http()
    .post('/api/flows')
    .set(auth())
    .send({ display_name: displayName, definition: definitionOf(tasks) });
  if (res.status !== 201) throw new Error(`createFlow: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function createExecution(t: TestApp, auth: Auth, flowId: string, input: Record<string, unknown> = { file_key: 'a.pdf' }) {
  const res = await t.http().post('/api/flow-executions').set(auth()).send({ flow_id: flowId, input });
  if (res.status !== 201) throw new Error(`createExecution: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; status: string; created_at: string; run_number: number | null };
}

/** A fresh organization with a flow of `tasks` and one execution of it, running. */
export async function orgWithExecution(t: TestApp, tasks: TaskSpec[] = LINEAR_TASKS) {
  const org = await newOrg();
  const flowId = await createFlow(t, org.auth, tasks);
  const execution = await createExecution(t, org.auth, flowId);
  return { org, flowId, execution, id: execution.id };
}
