"""The trained jewelry network: a small U-Net that maps a working-resolution photo to the
piece matte, metal and gem masks, the defect map and the cast shadow.

model.py: the architecture.  train.py: training on synthetic renders.  reproduce.py: renders
the data and trains from a seed (`jewel-retouch train`).  analyzer.py: `NetAnalyzer`, the
network behind the `models.analysis.Analyzer` seam.  hybrid.py: the default analyzer (each
map from the method that won it).  metrics.py: held-out evaluation of any analyzer.
v2 (in progress, not used by the pipeline): v2.py the 512 px network, train_v2.py its training
on composited samples (models.synth.composite), eval_v2.py its held-out table beside v1.
(Nothing is imported here so that `jewel-retouch --help` does not load torch.)
"""
