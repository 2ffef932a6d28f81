'use strict';
// Reproduction of the seed's POST /api/generation/create route (Express 4 +
// jsonwebtoken + BullMQ 5 + ioredis), with the BullMQ Worker in the same process.
// Records live in Redis only (hash generation:<id>); there is no other DB.

const crypto = require('crypto');
const express = require('express');
const jwt = require('jsonwebtoken');
const Redis = require('ioredis');
const { Queue, Worker } = require('bullmq');

const PORT = Number(process.env.PORT || 3000);
const REDIS_HOST = process.env.REDIS_HOST || '127.0.0.1';
const REDIS_PORT = Number(process.env.REDIS_PORT || 6390);
const JWT_SECRET = process.env.JWT_SECRET || 'seed-dev-secret-change-me';
const QUEUE_NAME = 'generation';
// jsonwebtoken 9 turns a string secret into a KeyObject on every verify
// (a third of the route's CPU when profiled); SEED_KEY_OBJECT=1 does it once.
const VERIFY_KEY = process.env.SEED_KEY_OBJECT === '1' ? crypto.createSecretKey(Buffer.from(JWT_SECRET)) : JWT_SECRET;

const TIER_PRIORITY = { ENTERPRISE: 1, PREMIUM: 5, PRO: 10, FREE: 20 };

// App's own client for the records.
const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT });

// BullMQ gets connection options (it opens its own connections with the
// ioredis version it pins); maxRetriesPerRequest: null as BullMQ requires for workers.
const connection = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };

const queue = new Queue(QUEUE_NAME, { connection });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Stand-in for Suno: slower than demand (2 s per song).
const worker = new Worker(
  QUEUE_NAME,
  async (job) => {
    const { generationId } = job.data;
    const key = `generation:${generationId}`;
    await redis.hset(key, 'status', 'processing');
    await job.updateProgress(10);
    await sleep(500);
    await job.updateProgress(30);
    await sleep(800);
    await job.updateProgress(70);
    await sleep(500);
    await job.updateProgress(90);
    await sleep(200);
    const audioUrl = `https://cdn.example.invalid/audio/${generationId}.mp3`;
    await redis.hset(key, 'status', 'completed', 'audioUrl', audioUrl, 'completedAt', new Date().toISOString());
    await job.updateProgress(100);
    return { audioUrl };
  },
  {
    connection,
    concurrency: 5,
    limiter: { max: 10, duration: 1000 },
  }
);

worker.on('failed', async (job, err) => {
  if (job && job.attemptsMade >= (job.opts.attempts || 1)) {
    await redis.hset(`generation:${job.data.generationId}`, 'status', 'failed', 'error', String(err && err.message));
  }
});
worker.on('error', (err) => console.error('worker error:', err.message));

// Dev users: two per tier, tokens signed with this server's own secret.
const DEV_USERS = ['FREE', 'PRO', 'PREMIUM', 'ENTERPRISE'].flatMap((tier) =>
  [1, 2].map((n) => {
    const userId = `user-${tier.toLowerCase()}-${n}`;
    return { userId, tier, token: jwt.sign({ sub: userId, tier }, JWT_SECRET, { algorithm: 'HS256', expiresIn: '7d' }) };
  })
);

function authenticate(req, res, next) {
  const header = req.headers.authorization || '';
  const [scheme, token] = header.split(' ');
  if (scheme !== 'Bearer' || !token) {
    return res.status(401).json({ error: 'Missing or invalid Authorization header' });
  }
  try {
    const payload = jwt.verify(token, VERIFY_KEY, { algorithms: ['HS256'] });
    if (!payload.sub || !Object.prototype.hasOwnProperty.call(TIER_PRIORITY, payload.tier)) {
      return res.status(401).json({ error: 'Invalid token' });
    }
    req.user = { userId: payload.sub, tier: payload.tier };
    next();
  } catch (err) {
    return res.status(401).json({ error: 'Invalid token' });
  }
}

const app = express();
app.use(express.json());

app.get('/api/dev/users', (req, res) => {
  res.json({ users: DEV_USERS });
});

app.post('/api/generation/create', authenticate, async (req, res, next) => {
  try {
    const prompt = req.body && req.body.prompt;
    if (typeof prompt !== 'string' || prompt.length < 1 || prompt.length > 3000) {
      return res.status(400).json({ error: 'prompt is required (1-3000 characters)' });
    }
    const { userId, tier } = req.user;
    const generationId = crypto.randomUUID();

    await redis.hset(`generation:${generationId}`, {
      userId,
      tier,
      prompt,
      status: 'pending',
      createdAt: new Date().toISOString(),
    });

    await queue.add(
      'generate',
      { generationId, userId, tier, prompt },
      {
        jobId: generationId, // idempotency
        priority: TIER_PRIORITY[tier],
        attempts: 3,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: { age: 3600 },
      }
    );

    res.status(202).json({ generationId, status: 'pending', message: 'Generation queued' });
  } catch (err) {
    next(err);
  }
});

// Malformed JSON bodies -> 400; anything else -> 500.
app.use((err, req, res, next) => {
  if (err.type === 'entity.parse.failed' || err.status === 400) {
    return res.status(400).json({ error: 'Invalid JSON body' });
  }
  console.error(err);
  res.status(500).json({ error: 'Internal server error' });
});

const server = app.listen(PORT, '127.0.0.1', () => {
  console.log(`seed server listening on 127.0.0.1:${PORT} (redis ${REDIS_HOST}:${REDIS_PORT})`);
});

async function shutdown() {
  server.close();
  await worker.close();
  await queue.close();
  await redis.quit();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
