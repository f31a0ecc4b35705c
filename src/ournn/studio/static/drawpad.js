// The drawing pad: white ink on a black 280 x 280 canvas, read back as a small grayscale grid.
"use strict";

const INK_WIDTH = 18;       // px, round strokes, about the width of an MNIST pen stroke
const GRID = 56;            // the canvas is averaged down to GRID x GRID values in 0..1
const THROTTLE_MS = 150;    // while drawing, report the picture at most this often

export class DrawPad {
  /**
   * canvas:   the <canvas> (its width must be a multiple of GRID)
   * onChange: called with (pixels, final) while drawing (throttled) and at each stroke end;
   *           pixels is a GRID x GRID array of rows, ink = 1, or null when the pad is empty
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.drawing = false;
    this.enabled = true;
    this.last = null;          // the previous pointer position while drawing
    this.lastReport = 0;
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.end(e));
    canvas.addEventListener("pointercancel", (e) => this.end(e));
  }

  clear() {
    this.ctx.fillStyle = "#000000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
  }

  setEnabled(on) {
    this.enabled = on;
    this.canvas.classList.toggle("disabled", !on);
  }

  /** The pointer position in canvas pixels (the canvas may be scaled by CSS). */
  position(e) {
    const box = this.canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * (this.canvas.width / box.width),
            (e.clientY - box.top) * (this.canvas.height / box.height)];
  }

  start(e) {
    if (!this.enabled || e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.last = this.position(e);
    this.stroke(this.last, this.last);       // a click leaves a dot
  }

  move(e) {
    if (!this.drawing) return;
    const p = this.position(e);
    this.stroke(this.last, p);
    this.last = p;
    const now = performance.now();
    if (now - this.lastReport >= THROTTLE_MS) {
      this.lastReport = now;
      this.onChange(this.pixels(), false);
    }
  }

  end() {
    if (!this.drawing) return;
    this.drawing = false;
    this.lastReport = performance.now();
    this.onChange(this.pixels(), true);
  }

  stroke([x0, y0], [x1, y1]) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = INK_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    this.empty = false;
  }

  /** The picture averaged over blocks down to GRID x GRID floats in 0..1 (rows), or null. */
  pixels() {
    if (this.empty) return null;
    const { width, height } = this.canvas;
    const data = this.ctx.getImageData(0, 0, width, height).data;
    const bw = width / GRID, bh = height / GRID;
    const sums = new Float64Array(GRID * GRID);
    for (let y = 0; y < height; y++) {
      const row = Math.min(GRID - 1, Math.floor(y / bh)) * GRID;
      for (let x = 0; x < width; x++) {
        sums[row + Math.min(GRID - 1, Math.floor(x / bw))] += data[4 * (y * width + x)];
      }
    }
    const scale = 1 / (255 * bw * bh);
    const rows = [];
    for (let r = 0; r < GRID; r++) {
      rows.push(Array.from(sums.subarray(r * GRID, (r + 1) * GRID), (s) => +(s * scale).toFixed(3)));
    }
    return rows;
  }
}
