"""Applications built on the superpoint_rt library: the benchmark (:mod:`superpoint_rt.apps.bench`) and, as they
move here, the demo and the command-line front ends.

The arrows point one way: an app imports the library (``superpoint_rt.api``, ``ops``, ``sysinfo``, ...), never the
other way round, and nothing here reads paths that exist only in a source checkout.
"""
