import { MemoryQueueStore } from '../../src/queue/queue.store.memory.js';
import { describeQueueStore } from './queue-store.suite.js';

describeQueueStore('in-process', async (timings, settings) => new MemoryQueueStore(timings, settings));
