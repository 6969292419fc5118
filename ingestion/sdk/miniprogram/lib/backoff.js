'use strict';

// How long to wait before retry number `attempt` (1 for the first retry): exponential, capped, with
// "equal jitter" — half of the delay is fixed and half random, so devices that lost the network together
// do not all come back in the same second, and no retry ever fires immediately.
function retryDelayMs(attempt, policy, random, retryAfterMs) {
  var exponential = Math.min(policy.maxMs, policy.baseMs * Math.pow(2, Math.max(0, attempt - 1)));
  var delay = Math.round(exponential / 2 + (random() * exponential) / 2);
  if (typeof retryAfterMs === 'number' && retryAfterMs > delay) {
    // A 429's Retry-After is the server's own estimate; honour it, within the cap.
    delay = Math.min(policy.maxMs, retryAfterMs);
  }
  return delay;
}

// Read a Retry-After header given in seconds (WeChat lower-cases nothing, so look both ways).
function retryAfterMs(header) {
  if (!header) {
    return undefined;
  }
  var value = header['Retry-After'] !== undefined ? header['Retry-After'] : header['retry-after'];
  var seconds = Number(value);
  return value !== undefined && value !== '' && isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

module.exports = { retryDelayMs: retryDelayMs, retryAfterMs: retryAfterMs };
