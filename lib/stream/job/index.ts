/** The job runtime: `runJob(definition)` → a `StreamJob` (progress, untilIdle, graceful stop, summary). */
export { runJob, formatStages } from './run-job.js';
export { lateText, utcTime } from './late-text.js';
export { JobError } from './types.js';
export type {
  JobDefinition,
  JobSink,
  JobStage,
  JobConnection,
  JobFeed,
  JobFeedContext,
  JobFeedControl,
  TunnelTuning,
  StreamJob,
  JobProgress,
  JobSummary,
  JobState,
  ChannelProgress,
} from './types.js';
