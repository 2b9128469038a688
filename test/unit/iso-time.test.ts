// Timestamps computed without Date.prototype.toISOString / toUTCString (src/iso-time.ts: those page ICU
// into the agent): the same text as the built-in methods, over edge cases and thousands of random times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpDate, isoTime } from '../../src/iso-time.js';

test('isoTime writes what Date.prototype.toISOString writes', () => {
  const samples = [0, -1, 1, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, -62_135_596_800_000, -62_198_755_200_001, 253_402_300_800_000, 8.64e15, -8.64e15, Date.now()];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor((Math.random() - 0.3) * 1e14));
  // Fractions of a ms (a monotonic clock's time made wall time: the status's `since`), cut as Date cuts them.
  samples.push(1_796_274_177_279.5605, -1.5, 0.999, 1_000.0001);
  for (let i = 0; i < 500; i++) samples.push((Math.random() - 0.3) * 1e14);
  for (const ms of samples) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
});

test('httpDate writes what Date.prototype.toUTCString writes', () => {
  const samples = [0, 1, 784_111_777_000, 951_782_400_000, 253_402_300_799_999, Date.now()];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 253_402_300_799_999));
  for (const ms of samples) assert.equal(httpDate(ms), new Date(ms).toUTCString(), String(ms));
});
