"""The loss chart: training loss per step and validation loss before, during and after training.

Drawn with pyqtgraph, which plots thousands of points live without slowing the window (it draws
straight onto the Qt scene; no image is rendered per update as with matplotlib).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from slmdesk.core.training import events as ev

TRAIN_COLOUR = "#1a73e8"
VALIDATION_COLOUR = "#e8710a"
#: From this many steps on, the training loss is drawn smoothed over a tenth of the run.
SMOOTHING_FROM = 60


def _moving_average(values: list[float], window: int) -> list[float]:
    """Centred mean over ``window`` points, so the trend does not lag behind the raw line."""
    half = max(1, window // 2)
    out = []
    for index in range(len(values)):
        # Symmetric even at the ends (narrower there), so a fast early drop is not flattened.
        reach = min(half, index, len(values) - 1 - index)
        part = values[index - reach:index + reach + 1]
        out.append(sum(part) / len(part))
    return out


class LossChart(pg.PlotWidget):
    """Feed it training events (live with :meth:`add_event`, or all at once with
    :meth:`set_events`); it keeps the points and redraws."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setMinimumHeight(200)
        self.setAntialiasing(True)
        plot = self.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "step")
        plot.setLabel("left", "loss")
        plot.setMenuEnabled(False)
        plot.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        for axis in ("bottom", "left"):
            plot.getAxis(axis).setTextPen("#3c4043")
            plot.getAxis(axis).setPen("#9aa0a6")
        self.legend = plot.addLegend(offset=(-10, 10), labelTextColor="#3c4043",
                                     brush=pg.mkBrush(255, 255, 255, 220))
        # Per-step losses jump with each chunk; over many steps a moving average shows the trend
        # and the raw line stays faint behind it.
        self.raw_curve = plot.plot([], [], pen=pg.mkPen(TRAIN_COLOUR + "55", width=1))
        self.train_curve = plot.plot([], [], name="training loss",
                                     pen=pg.mkPen(TRAIN_COLOUR, width=2))
        self.validation_curve = plot.plot(
            [], [], name="validation loss", pen=pg.mkPen(VALIDATION_COLOUR, width=2,
                                                         style=pg.QtCore.Qt.PenStyle.DashLine),
            symbol="o", symbolSize=8, symbolBrush=VALIDATION_COLOUR, symbolPen="w")
        self.train_points: list[tuple[int, float]] = []
        self.validation_points: list[tuple[int, float]] = []
        self.validation_label = "validation loss"
        self._last_step = 0
        self._total_steps = 0

    def clear_points(self) -> None:
        self.train_points, self.validation_points = [], []
        self._last_step = self._total_steps = 0
        self._redraw()

    def set_events(self, events: list[dict]) -> None:
        """Show a whole run (its ``events.jsonl``); a resumed run's repeated steps replace the
        ones before the checkpoint they resumed from."""
        self.clear_points()
        for event in events:
            self.add_event(event, redraw=False)
        self._redraw()

    def add_event(self, event: dict, redraw: bool = True) -> None:
        kind = event.get("type")
        if kind == ev.PLAN:
            self._total_steps = int(event.get("total_steps") or 0)
            self.setXRange(0, max(1, self._total_steps), padding=0.02)
        elif kind == ev.STEP and isinstance(event.get("loss"), (int, float)):
            step = int(event["step"])
            # A resumed run repeats the steps after its last checkpoint: keep the newer ones.
            self.train_points = [p for p in self.train_points if p[0] < step]
            self.train_points.append((step, float(event["loss"])))
            self._last_step = step
            self._total_steps = max(self._total_steps, int(event.get("total_steps") or 0))
        elif kind == ev.EVAL and event.get("split") == "general":
            return  # the forgetting figure, on an unrelated text: not a point of this curve
        elif kind == ev.EVAL and isinstance(event.get("loss"), (int, float)):
            stage = event.get("stage")
            step = 0 if stage == "before" else (self._total_steps if stage == "after"
                                                else self._last_step)
            if event.get("split") == "train":
                self.validation_label = "loss on the training text"
            self.validation_points = [p for p in self.validation_points if p[0] != step]
            self.validation_points.append((step, float(event["loss"])))
            self.validation_points.sort()
        else:
            return
        if redraw:
            self._redraw()

    def _redraw(self) -> None:
        steps = [p[0] for p in self.train_points]
        losses = [p[1] for p in self.train_points]
        window = len(losses) // 10
        if window >= SMOOTHING_FROM // 10:
            self.raw_curve.setData(steps, losses)
            self.train_curve.setData(steps, _moving_average(losses, window), symbol=None)
        else:
            self.raw_curve.setData([], [])
            # Few steps: mark each one (a single step would otherwise draw nothing).
            few = len(steps) <= SMOOTHING_FROM // 2
            self.train_curve.setData(steps, losses, symbol="o" if few else None, symbolSize=5,
                                     symbolBrush=TRAIN_COLOUR, symbolPen=None)
        self.validation_curve.setData([p[0] for p in self.validation_points],
                                      [p[1] for p in self.validation_points])
        label = self.legend.getLabel(self.validation_curve)
        if label is not None and label.text != self.validation_label:
            label.setText(self.validation_label)
        if self._total_steps:
            self.setXRange(0, self._total_steps, padding=0.02)
        values = [p[1] for p in self.train_points + self.validation_points]
        if values:
            low, high = min(values), max(values)
            self.setYRange(max(0.0, low * 0.9), high * 1.05 + 1e-6, padding=0.03)
