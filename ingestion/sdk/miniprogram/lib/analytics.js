'use strict';

var backoff = require('./backoff.js');
var contextLib = require('./context.js');
var ids = require('./ids.js');
var outcomes = require('./outcome.js');
var queueLib = require('./queue.js');
var share = require('./share.js');
var storageLib = require('./storage.js');

var KEYS = {
  queue: 'shoploop_queue',
  anonymousId: 'shoploop_anonymous_id',
  userId: 'shoploop_user_id',
  openid: 'shoploop_openid',
  unionid: 'shoploop_unionid',
  dropped: 'shoploop_dropped',
};

// The collector refuses events over 32 KB and batches over 500 KB; stay clear of both.
var MAX_EVENT_BYTES = 32 * 1024;
var MAX_BATCH_BYTES = 450 * 1024;

var EVENTS = {
  launched: 'Mini Program Launched',
  shown: 'Mini Program Shown',
  hidden: 'Mini Program Hidden',
  shared: 'Mini Program Shared',
  dropped: 'Tracking Events Dropped',
};

var DEFAULTS = {
  serverUrl: '',
  writeKey: '',
  appId: undefined,
  flushAt: 20,
  flushIntervalMs: 5000,
  maxBatchSize: 100,
  // About 750 bytes a message: 500 stay well under WeChat's 1 MB per storage key.
  maxQueueSize: 500,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60 * 1000,
  requestTimeoutMs: 10000,
  autoTrackApp: true,
};

function iso(ms) {
  return new Date(ms).toISOString();
}

function copy(value) {
  return value && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : {};
}

// The tracking client. One per mini-program, created in app.js before App(); see README.md.
class Analytics {
  constructor(options) {
    options = options || {};
    var settings = Object.assign({}, DEFAULTS, options);
    if (!settings.serverUrl || !settings.writeKey) {
      throw new Error('[shoploop] createAnalytics needs serverUrl and writeKey');
    }
    this._settings = settings;
    this._wx = options.wx || (typeof wx !== 'undefined' ? wx : undefined);
    if (!this._wx) {
      throw new Error('[shoploop] no wx object: pass options.wx outside a mini-program');
    }
    this._logger = options.logger || console;
    this._now =
      options.now ||
      function () {
        return Date.now();
      };
    this._random = options.random || Math.random;
    // Called through closures: host timers may refuse to run with `this` bound to another object.
    this._setTimeout =
      options.setTimeout ||
      function (callback, delayMs) {
        return setTimeout(callback, delayMs);
      };
    this._clearTimeout =
      options.clearTimeout ||
      function (timer) {
        clearTimeout(timer);
      };
    this._serverUrl = String(settings.serverUrl).replace(/\/+$/, '');

    this._storage = storageLib.createStorage(this._wx, this._logger);
    this._queue = new queueLib.PersistentQueue(this._storage, KEYS.queue, settings.maxQueueSize);
    this._anonymousId = this._storage.get(KEYS.anonymousId);
    if (typeof this._anonymousId !== 'string' || !this._anonymousId) {
      this._anonymousId = ids.uuid4(this._random);
      this._storage.set(KEYS.anonymousId, this._anonymousId);
    }
    this._userId = this._storage.get(KEYS.userId);
    this._openid = this._storage.get(KEYS.openid);
    this._unionid = this._storage.get(KEYS.unionid);
    this._unreportedDrops = Object.assign({}, this._storage.get(KEYS.dropped) || {});
    this._stats = { sent: 0, retries: 0, dropped: {} };

    this._deviceContext = contextLib.deviceContextOf(this._systemInfo());
    this._networkType = 'unknown';
    this._appContext = this._accountContext();

    this._scene = undefined;
    this._entryShare = null;
    this._shownAt = undefined;
    this._isForeground = false;
    this._lastPageRoute = null;

    this._isSending = false;
    this._flushTimer = null;
    this._retryTimer = null;
    this._attempt = 0;
    this._waiters = [];
    this._listeners = [];
    this._closed = false;

    this._countDrops('queue_full', this._queue.takeDroppedOnLoad());
    this._watchNetwork();
    if (settings.autoTrackApp) {
      this._watchApp();
    }
    if (this._queue.size > 0) {
      // Messages left from an earlier run (offline, or closed before they went out).
      this._scheduleFlush();
    }
  }

  // --- public API ---------------------------------------------------------------------------------

  // Record that the shopper did something: track('Product Viewed', {product_id: 'sku-7', price: 1999}).
  track(event, properties) {
    if (typeof event !== 'string' || !event) {
      this._logger.warn('[shoploop] track() needs an event name');
      return;
    }
    this._enqueue(this._message('track', { event: event, properties: copy(properties) }));
  }

  // Record a page view; the wrapped Page() calls this on every onShow.
  page(route, properties) {
    var name = String(route || '').replace(/^\//, '');
    var props = Object.assign({ path: name, query: {}, referrer: this._lastPageRoute }, copy(properties));
    this._lastPageRoute = name;
    this._enqueue(this._message('page', { name: name, properties: props }));
  }

  // Tie this device to a shop account once the shopper logs in.
  identify(userId, traits) {
    if (userId !== undefined && userId !== null && userId !== '') {
      this._userId = String(userId);
      this._storage.set(KEYS.userId, this._userId);
    }
    this._enqueue(this._message('identify', { traits: copy(traits) }));
  }

  // The openid from your server's code2Session; sent as context.wechat.openid (pseudonymised by the collector).
  setOpenid(openid) {
    this._openid = openid ? String(openid) : undefined;
    this._storage.set(KEYS.openid, this._openid || '');
  }

  setUnionid(unionid) {
    this._unionid = unionid ? String(unionid) : undefined;
    this._storage.set(KEYS.unionid, this._unionid || '');
  }

  // Forget the logged-in shopper (log out): a new anonymousId, no userId, no openid.
  reset() {
    this._userId = undefined;
    this._openid = undefined;
    this._unionid = undefined;
    this._anonymousId = ids.uuid4(this._random);
    this._storage.set(KEYS.anonymousId, this._anonymousId);
    this._storage.set(KEYS.userId, '');
    this._storage.set(KEYS.openid, '');
    this._storage.set(KEYS.unionid, '');
  }

  getAnonymousId() {
    return this._anonymousId;
  }

  // Send what is queued now (while backing off, the pending retry sends it). Resolves when this drain
  // stops, with {isEmpty, queued}: isEmpty is false when the collector could not be reached.
  flush() {
    var self = this;
    return new Promise(function (resolve) {
      self._waiters.push(resolve);
      self._flushNow();
      if (!self._isSending) {
        self._settleWaiters();
      }
    });
  }

  // Counters for a debug page or a support ticket.
  stats() {
    return {
      queued: this._queue.size,
      sent: this._stats.sent,
      retries: this._stats.retries,
      dropped: Object.assign({}, this._stats.dropped),
      anonymousId: this._anonymousId,
    };
  }

  // Wrap a Page() definition: tracks a page view on every onShow and adds share attribution to
  // onShareAppMessage / onShareTimeline. Page(analytics.wrapPage({...})).
  wrapPage(pageOptions) {
    var self = this;
    var wrapped = Object.assign({}, pageOptions);
    var onShow = pageOptions.onShow;
    wrapped.onShow = function () {
      self.page(this.route, { path: this.route, query: copy(this.options) });
      return onShow ? onShow.apply(this, arguments) : undefined;
    };
    // Only wrap share handlers the page has: their presence is what turns sharing on in WeChat.
    if (typeof pageOptions.onShareAppMessage === 'function') {
      var onShareAppMessage = pageOptions.onShareAppMessage;
      wrapped.onShareAppMessage = function (event) {
        var result = onShareAppMessage.apply(this, arguments);
        return self._attributeChatShare(result, this, event);
      };
    }
    if (typeof pageOptions.onShareTimeline === 'function') {
      var onShareTimeline = pageOptions.onShareTimeline;
      wrapped.onShareTimeline = function () {
        var result = onShareTimeline.apply(this, arguments);
        return self._attributeTimelineShare(result, this);
      };
    }
    return wrapped;
  }

  // Stop timers and lifecycle listeners (tests, or a plugin being unloaded). Queued messages stay stored.
  close() {
    this._closed = true;
    this._cancel('_flushTimer');
    this._cancel('_retryTimer');
    var wxApi = this._wx;
    this._listeners.forEach(function (listener) {
      if (typeof wxApi[listener.off] === 'function') {
        wxApi[listener.off](listener.callback);
      }
    });
    this._listeners = [];
    this._settleWaiters();
  }

  // --- lifecycle ----------------------------------------------------------------------------------

  _watchApp() {
    var self = this;
    var launch;
    try {
      launch = this._wx.getLaunchOptionsSync();
    } catch (error) {
      this._logger.warn('[shoploop] wx.getLaunchOptionsSync failed; launch is not tracked', error);
    }
    if (launch) {
      this._enterVisit(launch);
      this.track(EVENTS.launched, this._visitProperties(launch));
      this._show(launch);
    }
    this._listen('onAppShow', 'offAppShow', function (options) {
      // The first onAppShow repeats the launch, which was tracked above.
      if (!self._isForeground) {
        self._enterVisit(options || {});
        self._show(options || {});
      }
    });
    this._listen('onAppHide', 'offAppHide', function () {
      self._hide();
    });
  }

  _enterVisit(options) {
    this._scene = typeof options.scene === 'number' ? options.scene : parseInt(options.scene, 10) || undefined;
    var entry = share.shareEntryOf(options.query);
    // A show without share parameters (back from the background) keeps the share the visit began with.
    if (entry) {
      this._entryShare = entry;
    }
  }

  _visitProperties(options) {
    var properties = { scene: this._scene, path: options.path || '', query: copy(options.query) };
    var entry = share.shareEntryOf(options.query);
    if (entry) {
      properties.share_id = entry.shareId;
      properties.share_depth = entry.depth;
    }
    return properties;
  }

  _show(options) {
    this._isForeground = true;
    this._shownAt = this._now();
    this.track(EVENTS.shown, this._visitProperties(options));
  }

  _hide() {
    if (!this._isForeground) {
      return;
    }
    this._isForeground = false;
    this.track(EVENTS.hidden, { duration_ms: Math.max(0, this._now() - this._shownAt), path: this._lastPageRoute });
    // The shopper may never come back; send now rather than at the next interval.
    this._flushNow();
  }

  _newShare() {
    return {
      shareId: ids.shareId(this._random),
      depth: share.nextShareDepth(this._entryShare),
      parentShareId: this._entryShare ? this._entryShare.shareId : null,
    };
  }

  _trackShare(made, path, method) {
    this.track(EVENTS.shared, {
      share_id: made.shareId,
      share_depth: made.depth,
      parent_share_id: made.parentShareId,
      path: path,
      method: method,
    });
  }

  _attributeChatShare(result, pageInstance, event) {
    var self = this;
    var made = this._newShare();
    var defaultPath = share.pathOf(pageInstance.route, pageInstance.options);
    var rewrite = function (content) {
      var rewritten = Object.assign({}, content);
      rewritten.path = share.appendShareToPath(rewritten.path || defaultPath, made.shareId, made.depth);
      return rewritten;
    };
    var shared = rewrite(result);
    this._trackShare(made, shared.path, event && event.from === 'button' ? 'button' : 'menu');
    if (result && result.promise && typeof result.promise.then === 'function') {
      // Base library 2.12+: the page may answer the share content later, through a promise.
      shared.promise = result.promise.then(function (content) {
        return content ? rewrite(content) : content;
      });
    }
    return shared;
  }

  _attributeTimelineShare(result, pageInstance) {
    var made = this._newShare();
    var shared = Object.assign({}, result);
    shared.query = share.appendShareToQuery(shared.query || '', made.shareId, made.depth);
    this._trackShare(made, share.pathOf(pageInstance.route, {}).replace(/^\//, '') + '?' + shared.query, 'timeline');
    return shared;
  }

  _listen(on, off, callback) {
    if (typeof this._wx[on] === 'function') {
      this._wx[on](callback);
      this._listeners.push({ off: off, callback: callback });
    }
  }

  _watchNetwork() {
    var self = this;
    try {
      this._wx.getNetworkType({
        success: function (result) {
          self._networkType = result.networkType;
        },
      });
    } catch (error) {
      this._logger.warn('[shoploop] wx.getNetworkType failed', error);
    }
    this._listen('onNetworkStatusChange', 'offNetworkStatusChange', function (status) {
      self._networkType = status.networkType;
      // Back online while waiting to retry: try now instead of sleeping out the backoff.
      if (status.isConnected && self._retryTimer !== null) {
        self._cancel('_retryTimer');
        self._sendNext();
      }
    });
  }

  _systemInfo() {
    try {
      return this._wx.getSystemInfoSync();
    } catch (error) {
      this._logger.warn('[shoploop] wx.getSystemInfoSync failed', error);
      return {};
    }
  }

  _accountContext() {
    var appId = this._settings.appId;
    var app;
    if (typeof this._wx.getAccountInfoSync === 'function') {
      try {
        var miniProgram = this._wx.getAccountInfoSync().miniProgram || {};
        appId = appId || miniProgram.appId;
        app = { version: miniProgram.version || undefined, build: miniProgram.envVersion };
      } catch (error) {
        this._logger.warn('[shoploop] wx.getAccountInfoSync failed', error);
      }
    }
    return { appId: appId, app: app };
  }

  // --- messages -----------------------------------------------------------------------------------

  _context() {
    var context = copy(this._deviceContext);
    context.network = contextLib.networkContextOf(this._networkType);
    var wechat = { scene: this._scene };
    if (this._appContext.appId) {
      wechat.appId = this._appContext.appId;
    }
    if (this._openid) {
      wechat.openid = this._openid;
    }
    if (this._unionid) {
      wechat.unionid = this._unionid;
    }
    context.wechat = wechat;
    if (this._appContext.app) {
      context.app = copy(this._appContext.app);
    }
    return context;
  }

  _message(type, fields) {
    var message = {
      type: type,
      messageId: ids.uuid4(this._random),
      anonymousId: this._anonymousId,
      timestamp: iso(this._now()),
      context: this._context(),
      integrations: {},
    };
    if (this._userId) {
      message.userId = this._userId;
    }
    return Object.assign(message, fields);
  }

  _enqueue(message) {
    if (this._closed) {
      return;
    }
    if (queueLib.utf8Bytes(JSON.stringify(message)) > MAX_EVENT_BYTES) {
      this._logger.error('[shoploop] dropped a ' + message.type + ' over 32 KB, which the collector refuses');
      this._countDrops('event_too_large', 1);
      return;
    }
    var dropped = this._queue.push(message);
    if (dropped > 0) {
      this._logger.warn('[shoploop] queue full: dropped the ' + dropped + ' oldest message(s)');
      this._countDrops('queue_full', dropped);
    }
    if (this._queue.size >= this._settings.flushAt) {
      this._flushNow();
    } else {
      this._scheduleFlush();
    }
  }

  _countDrops(reason, count) {
    if (!count) {
      return;
    }
    this._stats.dropped[reason] = (this._stats.dropped[reason] || 0) + count;
    this._unreportedDrops[reason] = (this._unreportedDrops[reason] || 0) + count;
    this._storage.set(KEYS.dropped, this._unreportedDrops);
  }

  // Once the collector is reachable again, tell it how many messages this device lost and why.
  _reportDrops() {
    var self = this;
    var drops = this._unreportedDrops;
    var reasons = Object.keys(drops).filter(function (reason) {
      return drops[reason] > 0;
    });
    if (reasons.length === 0) {
      return;
    }
    this._unreportedDrops = {};
    this._storage.set(KEYS.dropped, {});
    reasons.forEach(function (reason) {
      self.track(EVENTS.dropped, { dropped_count: drops[reason], reason: reason });
    });
  }

  // --- sending ------------------------------------------------------------------------------------

  _cancel(timerField) {
    if (this[timerField] !== null) {
      this._clearTimeout(this[timerField]);
      this[timerField] = null;
    }
  }

  _scheduleFlush() {
    var self = this;
    if (this._flushTimer !== null || this._closed) {
      return;
    }
    this._flushTimer = this._setTimeout(function () {
      self._flushTimer = null;
      self._flushNow();
    }, this._settings.flushIntervalMs);
  }

  _flushNow() {
    this._cancel('_flushTimer');
    // A request in flight drains the queue when it returns; a pending retry sends it when due.
    if (this._isSending || this._retryTimer !== null || this._closed) {
      return;
    }
    this._sendNext();
  }

  _sendNext() {
    var self = this;
    var batch = this._queue.peekBatch(this._settings.maxBatchSize, MAX_BATCH_BYTES);
    if (batch.length === 0 || this._closed) {
      this._isSending = false;
      this._settleWaiters();
      return;
    }
    this._isSending = true;
    var messageIds = batch.map(function (message) {
      return message.messageId;
    });
    var isSettled = false;
    var settle = function (statusCode, header, detail) {
      if (isSettled) {
        return;
      }
      isSettled = true;
      self._afterSend(batch, messageIds, statusCode, header, detail);
    };
    try {
      this._wx.request({
        url: this._serverUrl + '/v1/batch',
        method: 'POST',
        header: { 'Content-Type': 'application/json' },
        // sentAt is the time of this attempt: the collector corrects the device clock with it.
        data: JSON.stringify({ batch: batch, sentAt: iso(this._now()), writeKey: this._settings.writeKey }),
        dataType: 'json',
        timeout: this._settings.requestTimeoutMs,
        success: function (response) {
          settle(response.statusCode, response.header, response.data);
        },
        fail: function (error) {
          settle(undefined, undefined, error && error.errMsg);
        },
      });
    } catch (error) {
      settle(undefined, undefined, String(error));
    }
  }

  _afterSend(batch, messageIds, statusCode, header, detail) {
    var outcome = statusCode === undefined ? outcomes.RETRY : outcomes.outcomeOf(statusCode);
    if (outcome === outcomes.SENT) {
      this._queue.remove(messageIds);
      this._stats.sent += batch.length;
      this._attempt = 0;
      this._reportDrops();
      this._sendNext();
      return;
    }
    if (outcome === outcomes.REJECTED) {
      // Sending it again can never succeed; keep the queue moving and say so loudly.
      this._queue.remove(messageIds);
      this._logger.error(
        '[shoploop] the collector refused a batch of ' + batch.length + ' with HTTP ' + statusCode + '; dropped',
        detail
      );
      this._countDrops('rejected_' + statusCode, batch.length);
      this._attempt = 0;
      this._sendNext();
      return;
    }
    this._attempt += 1;
    this._stats.retries += 1;
    var delay = backoff.retryDelayMs(
      this._attempt,
      { baseMs: this._settings.retryBaseMs, maxMs: this._settings.retryMaxMs },
      this._random,
      statusCode === 429 ? backoff.retryAfterMs(header) : undefined
    );
    this._logger.warn(
      '[shoploop] could not send ' +
        batch.length +
        ' message(s) (' +
        (statusCode === undefined ? 'network: ' + detail : 'HTTP ' + statusCode) +
        '); retry ' +
        this._attempt +
        ' in ' +
        delay +
        ' ms'
    );
    this._isSending = false;
    var self = this;
    if (!this._closed) {
      this._retryTimer = this._setTimeout(function () {
        self._retryTimer = null;
        self._sendNext();
      }, delay);
    }
    this._settleWaiters();
  }

  _settleWaiters() {
    if (this._isSending) {
      return;
    }
    var waiters = this._waiters;
    this._waiters = [];
    var result = { isEmpty: this._queue.size === 0, queued: this._queue.size };
    waiters.forEach(function (resolve) {
      resolve(result);
    });
  }
}

module.exports = { Analytics: Analytics, EVENTS: EVENTS, STORAGE_KEYS: KEYS, DEFAULTS: DEFAULTS };
