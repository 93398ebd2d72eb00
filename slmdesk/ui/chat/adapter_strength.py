"""The adapter-strength slider of the Chat page: how strongly a LoRA adapter is applied.

A LoRA adapter adds ``scale x`` its learned change to the base model; 1.0 is as trained, 0 the
base model alone, above 1 exaggerates it. The engine applies a new scale to the live model
(``set_adapters``) without reloading it, so the slider can be moved freely; changes are sent
once the slider rests for a moment rather than at every pixel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

#: The slider's range in hundredths of the scale.
MAXIMUM = 200
SETTLE_MS = 250


class AdapterStrength(QWidget):
    """A labelled slider from 0 to 2 (in steps of 0.05); ``scale_changed`` once it rests."""

    scale_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, MAXIMUM)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(25)
        self.slider.setFixedWidth(140)
        self.slider.setToolTip("Adapter strength: 0 is the base model alone, 1 the adapter as "
                               "trained, above 1 exaggerates what it learned")
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(36)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Adapter strength"))
        layout.addWidget(self.slider)
        layout.addWidget(self.value_label)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self._settled)
        self.slider.valueChanged.connect(self._moved)
        self.set_scale(1.0)

    @property
    def scale(self) -> float:
        return self.slider.value() / 100

    def set_scale(self, scale: float) -> None:
        """Show ``scale`` without reporting it as a change."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(max(0.0, min(scale, MAXIMUM / 100)) * 100))
        self.slider.blockSignals(False)
        self._show()

    @Slot(int)
    def _moved(self, _value: int) -> None:
        self._show()
        self._timer.start()

    @Slot()
    def _settled(self) -> None:
        self.scale_changed.emit(self.scale)

    def _show(self) -> None:
        self.value_label.setText(f"{self.scale:.2f}")
