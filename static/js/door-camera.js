// The tablet's camera as a card scanner on the door screen. ZXing (vendored under
// static/vendor/zxing, loaded only when the camera is first used) reads the card's QR code from
// the video, and the code is typed into the scan box with Enter — just what a USB or Bluetooth
// scanner does, so the door's script (door/main.js) checks the guest in with no tap. Cameras
// need HTTPS (or localhost): elsewhere the button stays hidden.
(function () {
  "use strict";
  var app = document.getElementById("door-app");
  var button = document.getElementById("door-camera");
  if (!app || !button || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  var panel = document.getElementById("door-camera-panel");
  var video = panel.querySelector("video");
  var note = panel.querySelector("[data-camera-note]");
  var input = document.querySelector("[data-scan-input]");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null, timer = null, reader = null, last = "", lastAt = 0, turn = false;
  button.hidden = false;

  function load() {
    if (window.ZXing) { return Promise.resolve(); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = app.dataset.zxing;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function start() {
    panel.hidden = false;
    note.textContent = "";
    load().then(function () {
      reader = new window.ZXing.QRCodeReader();
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (media) {
      stream = media;
      video.srcObject = media;
      return video.play().catch(function () {});  // read() asks again
    }).then(function () {
      timer = setInterval(read, 200);
    }).catch(function () {
      note.textContent = note.dataset.unavailable;
    });
  }

  function stop() {
    clearInterval(timer);
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    panel.hidden = true;
    input.focus();
  }

  // The frame turned a quarter clockwise. ZXing's finder misses some cards seen square and
  // sharp (zxing-js issue 653: 8 of 200 random cards drawn clean), but not the same cards
  // turned (none of those 200 missed both ways).
  function quarterTurn(grey, width, height) {
    var turned = new Uint8ClampedArray(grey.length);
    for (var y = 0; y < height; y += 1) {
      for (var x = 0, row = y * width; x < width; x += 1) {
        turned[x * height + height - 1 - y] = grey[row + x];
      }
    }
    return turned;
  }

  // One frame: grey levels for ZXing (every other frame turned a quarter, so a card held still
  // that ZXing misses one way is read the other); a code found is "scanned" (once while it
  // stays in view).
  function read() {
    if (video.paused) { video.play().catch(function () {}); }
    if (video.readyState < 2 || !video.videoWidth) { return; }
    var scale = Math.min(1, 640 / video.videoWidth);
    var width = Math.round(video.videoWidth * scale), height = Math.round(video.videoHeight * scale);
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    var rgba = context.getImageData(0, 0, width, height).data;
    var grey = new Uint8ClampedArray(width * height);
    for (var i = 0, j = 0; i < grey.length; i += 1, j += 4) {
      grey[i] = (rgba[j] + 2 * rgba[j + 1] + rgba[j + 2]) >> 2;
    }
    if (turn) {
      grey = quarterTurn(grey, width, height);
      var across = width;
      width = height;
      height = across;
    }
    turn = !turn;
    var ZXing = window.ZXing, text;
    try {
      text = reader.decode(new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(
        new ZXing.RGBLuminanceSource(grey, width, height)))).getText();
    } catch (error) {
      return;  // no code in this frame
    }
    if (text === last && Date.now() - lastAt < 3000) { return; }
    last = text;
    lastAt = Date.now();
    input.value = text;
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  }

  button.addEventListener("click", function () { if (stream) { stop(); } else { start(); } });
  panel.querySelector("[data-camera-stop]").addEventListener("click", stop);
})();
