"""The trained jewelry network: a small U-Net that maps a working-resolution photo to the
piece matte, metal and gem masks, the defect map and the cast shadow.

model.py: the architecture.  train.py: training on synthetic renders (`jewel-retouch train`).
analyzer.py: `NetAnalyzer`, the network behind the `models.analysis.Analyzer` seam.
metrics.py: held-out evaluation of any analyzer against synthetic ground truth.
"""

from models.net.model import OUTPUTS, JewelNet

__all__ = ["OUTPUTS", "JewelNet"]
