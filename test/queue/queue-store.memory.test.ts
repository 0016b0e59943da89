import { MemoryQueueLines, MemoryQueueStore } from '../../src/queue/queue.store.memory.js';
import { describeQueueLines, describeQueueStore } from './queue-store.suite.js';

describeQueueStore('in-process', async (timings, settings) => new MemoryQueueStore(timings, settings));
describeQueueLines('in-process', async (timings, settings) => new MemoryQueueLines(timings, settings));
