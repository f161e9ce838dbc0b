"""The trained jewelry network: a small U-Net that maps a working-resolution photo to the
piece matte, metal and gem masks, the defect map and the cast shadow.

model.py: the architecture.  train.py: training on synthetic renders.  reproduce.py: renders
the data and trains from a seed (`jewel-retouch train`).  analyzer.py: `NetAnalyzer`, the
network behind the `models.analysis.Analyzer` seam.  hybrid.py: the default analyzer (each
map from the method that won it).  metrics.py: held-out evaluation of any analyzer.
(Nothing is imported here so that `jewel-retouch --help` does not load torch.)
"""
