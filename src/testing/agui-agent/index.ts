export {
  FakeAguiAgent,
  aguiRun,
  runError,
  runFinished,
  runStarted,
  stateSnapshot,
  textMessage,
  textRun,
  toolCall,
  toolResult,
} from './agui-agent-server.js';
export type { AguiReply, RecordedRequest, RunIds } from './agui-agent-server.js';
