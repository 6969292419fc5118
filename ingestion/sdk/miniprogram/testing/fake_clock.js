'use strict';

// A manual clock for the SDK's injectable now/setTimeout/clearTimeout: time moves only on advance().
class FakeClock {
  constructor(startMs) {
    this.nowMs = startMs === undefined ? Date.parse('2024-11-11T02:00:00.000Z') : startMs;
    this._timers = [];
    this._nextId = 1;
    this.now = this.now.bind(this);
    this.setTimeout = this.setTimeout.bind(this);
    this.clearTimeout = this.clearTimeout.bind(this);
  }

  now() {
    return this.nowMs;
  }

  setTimeout(callback, delayMs) {
    var id = this._nextId;
    this._nextId += 1;
    this._timers.push({ id: id, at: this.nowMs + Math.max(0, delayMs || 0), delayMs: delayMs, callback: callback });
    return id;
  }

  clearTimeout(id) {
    this._timers = this._timers.filter(function (timer) {
      return timer.id !== id;
    });
  }

  // Delays (as scheduled) of the timers not yet fired, earliest first.
  pendingDelays() {
    return this._timers
      .slice()
      .sort(function (a, b) {
        return a.at - b.at;
      })
      .map(function (timer) {
        return timer.delayMs;
      });
  }

  // Move time forward, firing every timer that falls due, in order, including ones scheduled meanwhile.
  advance(ms) {
    var end = this.nowMs + ms;
    for (;;) {
      var due = this._timers
        .filter(function (timer) {
          return timer.at <= end;
        })
        .sort(function (a, b) {
          return a.at - b.at || a.id - b.id;
        })[0];
      if (!due) {
        break;
      }
      this.clearTimeout(due.id);
      this.nowMs = due.at;
      due.callback();
    }
    this.nowMs = end;
  }
}

module.exports = { FakeClock: FakeClock };
