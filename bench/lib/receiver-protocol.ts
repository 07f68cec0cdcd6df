/** Messages between the bench runner and its receiver process. */

export interface ReceiverConfig {
  /** Ports to listen on (0 = any free port). @default [0] */
  ports?: number[];
  /** Append every request to this JSONL file. */
  logFile?: string;
}

/** One callback answered 200: arrival (epoch ms), port, task id, completed_at/failed_at (epoch ms), 1 = task.completed. */
export type ReceiverRecord = [at: number, port: number, taskId: string, doneAt: number, completed: 0 | 1];

/** One line of the receiver's JSONL log. */
export interface ReceiverLogLine {
  at: number;
  task_id: string;
  event: string;
  webhook_id: string;
  reply: 200 | 500 | 'drop';
}

export type ReceiverCommand =
  | { id: number; cmd: 'mode'; port: number; mode: 'ok' | 'hang' }
  | { id: number; cmd: 'failRate'; rate: number }
  | { id: number; cmd: 'down'; ms: number }
  | { id: number; cmd: 'count' }
  | { id: number; cmd: 'dump' }
  | { id: number; cmd: 'reset' }
  | { id: number; cmd: 'missing'; ids: string[] }
  | { id: number; cmd: 'flush' };

export interface ReceiverCounts {
  requests: number;
  hung: number;
  records: number;
  acked: number;
}
