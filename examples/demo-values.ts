/**
 * The fake keys `examples/demo.ts` stores in the embedded Secret Manager emulator. They are shared with
 * `test/demo.test.ts`, which checks that the demo's output never contains any of them (nor a slice of them).
 */
export const DEMO_SECRET = 'OPENAI_API_KEY';

export const DEMO_VALUES = {
  OPENAI_API_KEY_v1: 'sk-demo-v1-Qm7xT2pL9wZ4rK8nB3vC',
  OPENAI_API_KEY_v2: 'sk-demo-v2-Hd5sY1fJ6gE0uA9tW2qX',
  OPENAI_API_KEY_v3: 'sk-demo-v3-Rc4nP8kV2mZ7yL1sD6hG',
} as const;
