"""Self-supervised training: Synthetic Shapes -> MagicPoint -> Homographic Adaptation -> SuperPoint.

Entry points: ``python -m superpoint_rt.train {magicpoint,adapt,superpoint,export} ...`` and
:func:`superpoint_rt.apps.train_cli.register` for the top-level ``superpoint-rt train`` command.
Needs the ``train`` extra (torch, pyyaml, matplotlib).
"""
