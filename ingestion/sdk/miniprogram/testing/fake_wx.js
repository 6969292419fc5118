'use strict';

// A fake WeChat runtime for tests, honouring the contracts of the real APIs the SDK uses:
// - wx.getStorageSync answers '' for a missing key and a copy of the stored value otherwise;
//   wx.setStorageSync throws past 1 MB for one key, as the real one does;
// - wx.request calls success for every HTTP answer (500 included: statusCode tells), fail only when
//   no answer came, then complete; callbacks are always asynchronous;
// - App()/Page() definitions are driven through launch, page open, share, hide and show the way the
//   WeChat client drives them; wx.onAppShow listeners also hear the first show after launch.
// Requests go to `transport(request)`, which resolves {statusCode, data, header} or rejects (no network).

var MAX_ENTRY_BYTES = 1024 * 1024;

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function createFakeWx(options) {
  options = options || {};
  var storage = options.storage || new Map();
  var listeners = { show: [], hide: [], network: [] };
  var env = {
    storage: storage,
    requests: [],
    launchOptions: options.launchOptions || { scene: 1001, path: 'pages/index/index', query: {} },
    networkType: options.networkType || 'wifi',
    transport:
      options.transport ||
      function () {
        return Promise.reject(new Error('request:fail no transport'));
      },
    app: null,
    pages: {},
    currentPage: null,
  };

  function off(list, callback) {
    var index = list.indexOf(callback);
    if (index !== -1) {
      list.splice(index, 1);
    }
  }

  var wx = {
    getStorageSync: function (key) {
      return storage.has(key) ? clone(storage.get(key)) : '';
    },
    setStorageSync: function (key, value) {
      if (JSON.stringify(value).length > MAX_ENTRY_BYTES) {
        throw new Error('setStorageSync:fail entry size limit reached');
      }
      storage.set(key, clone(value));
    },
    removeStorageSync: function (key) {
      storage.delete(key);
    },
    getSystemInfoSync: function () {
      return clone(
        options.systemInfo || {
          brand: 'Apple',
          model: 'iPhone 15',
          system: 'iOS 17.2',
          platform: 'ios',
          language: 'zh_CN',
          version: '8.0.47',
          SDKVersion: '3.3.4',
          screenWidth: 393,
          screenHeight: 852,
          pixelRatio: 3,
        }
      );
    },
    getAccountInfoSync: function () {
      return { miniProgram: { appId: options.appId || 'wx8f3c2a1b0d4e5f67', envVersion: 'release', version: '1.4.0' } };
    },
    getNetworkType: function (callbacks) {
      setImmediate(function () {
        var result = { networkType: env.networkType, errMsg: 'getNetworkType:ok' };
        if (callbacks.success) callbacks.success(result);
        if (callbacks.complete) callbacks.complete(result);
      });
    },
    onNetworkStatusChange: function (callback) {
      listeners.network.push(callback);
    },
    offNetworkStatusChange: function (callback) {
      off(listeners.network, callback);
    },
    getLaunchOptionsSync: function () {
      return clone(env.launchOptions);
    },
    onAppShow: function (callback) {
      listeners.show.push(callback);
    },
    offAppShow: function (callback) {
      off(listeners.show, callback);
    },
    onAppHide: function (callback) {
      listeners.hide.push(callback);
    },
    offAppHide: function (callback) {
      off(listeners.hide, callback);
    },
    request: function (request) {
      var body = typeof request.data === 'string' ? JSON.parse(request.data) : clone(request.data);
      var sent = { url: request.url, method: request.method || 'GET', header: clone(request.header) || {}, body: body };
      env.requests.push(sent);
      var isAborted = false;
      Promise.resolve()
        .then(function () {
          return env.transport(sent);
        })
        .then(
          function (answer) {
            if (isAborted) return;
            var response = {
              statusCode: answer.statusCode,
              data: answer.data === undefined ? '' : answer.data,
              header: answer.header || {},
              errMsg: 'request:ok',
            };
            if (request.success) request.success(response);
            if (request.complete) request.complete(response);
          },
          function (error) {
            if (isAborted) return;
            var failure = { errMsg: (error && error.message) || 'request:fail' };
            if (request.fail) request.fail(failure);
            if (request.complete) request.complete(failure);
          }
        );
      return {
        abort: function () {
          isAborted = true;
        },
      };
    },
  };

  env.wx = wx;

  // --- App / Page, driven the way the WeChat client drives them --------------------------------
  env.App = function (definition) {
    env.app = definition;
  };
  env.Page = function (definition) {
    env._definingPage = definition;
  };
  // Run a page file: `register` calls env.Page(...) as the page's JS file would.
  env.definePage = function (route, register) {
    register();
    env.pages[route] = env._definingPage;
    env._definingPage = null;
  };
  // Cold start: app.js runs (SDK created, App() called), then onLaunch, then the first show.
  env.launch = function (launchOptions, runAppJs) {
    if (launchOptions) env.launchOptions = launchOptions;
    if (runAppJs) runAppJs();
    var launch = clone(env.launchOptions);
    if (env.app && env.app.onLaunch) env.app.onLaunch(launch);
    env.show(launch);
  };
  env.show = function (showOptions) {
    var shown = clone(showOptions || env.launchOptions);
    if (env.app && env.app.onShow) env.app.onShow(shown);
    listeners.show.slice().forEach(function (callback) {
      callback(clone(shown));
    });
    if (env.currentPage && env.currentPage.onShow) env.currentPage.onShow();
  };
  env.hide = function () {
    if (env.currentPage && env.currentPage.onHide) env.currentPage.onHide();
    if (env.app && env.app.onHide) env.app.onHide();
    listeners.hide.slice().forEach(function (callback) {
      callback();
    });
  };
  env.openPage = function (route, query) {
    var definition = env.pages[route];
    if (!definition) throw new Error('no page defined at ' + route);
    if (env.currentPage && env.currentPage.onHide) env.currentPage.onHide();
    var instance = Object.assign({}, definition, { route: route, options: clone(query || {}) });
    instance.data = clone(definition.data || {});
    env.currentPage = instance;
    if (instance.onLoad) instance.onLoad(clone(query || {}));
    if (instance.onShow) instance.onShow();
    return instance;
  };
  // The shopper taps "转发" (menu) or a share button; answers what WeChat would put in the card.
  env.shareToChat = function (from) {
    var page = env.currentPage;
    if (!page || !page.onShareAppMessage) throw new Error('this page cannot be shared');
    return page.onShareAppMessage({ from: from || 'menu', webViewUrl: undefined });
  };
  env.shareToTimeline = function () {
    var page = env.currentPage;
    if (!page || !page.onShareTimeline) throw new Error('this page cannot be shared to Moments');
    return page.onShareTimeline();
  };
  env.setNetwork = function (networkType) {
    env.networkType = networkType;
    listeners.network.slice().forEach(function (callback) {
      callback({ isConnected: networkType !== 'none', networkType: networkType });
    });
  };
  env.listenerCount = function () {
    return listeners.show.length + listeners.hide.length + listeners.network.length;
  };
  return env;
}

// Let pending request callbacks run (they are asynchronous, like WeChat's).
function settle() {
  var rounds = 0;
  return new Promise(function (resolve) {
    (function spin() {
      rounds += 1;
      if (rounds > 20) {
        resolve();
      } else {
        setImmediate(spin);
      }
    })();
  });
}

module.exports = { createFakeWx: createFakeWx, settle: settle };
