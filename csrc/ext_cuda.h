// Registration of the data-parallel post-processing bindings (ext_cuda.cpp) into superpoint_rt._C.
#pragma once

#include <pybind11/pybind11.h>

// Adds postprocess_grid_cpu, nms_grid_cpu, postprocess_k_out and, in CUDA builds,
// postprocess_workspace_bytes, postprocess_cuda and cuda_info to the module.
void register_cuda_ops(pybind11::module_& m);
