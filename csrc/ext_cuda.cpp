// Bindings of the data-parallel post-processing: the CPU twins of the CUDA kernels (always built:
// the tests run the GPU's per-thread functions over the GPU's grids on the CPU) and, when the CUDA
// sources are compiled in, the GPU entry points (device pointers + a stream, as integers, from
// torch tensors, CuPy arrays or TensorRT buffers alike). Registered from ext.cpp by
// register_cuda_ops(m).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ext_cuda.h"

#include "detect/detect_grid_launch.h"
#include "heatmap/heatmap_grid_launch.h"
#include "nms/nms_grid.h"
#include "nms/nms_grid_launch.h"
#include "postprocess/postprocess.h"
#include "sample_descriptors/sample_descriptors_grid_launch.h"

#if defined(SUPERPOINT_RT_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace py = pybind11;

namespace {

// A C-contiguous float32 (or float16 when allowed) array of one of the given ndims.
py::array checked(const py::object& obj, const char* name, bool allow_f16, int ndim, bool* f16) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + " must be a numpy.ndarray");
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  *f16 = false;
  if (allow_f16 && a.dtype().equal(py::dtype("float16"))) {
    *f16 = true;
  } else if (!a.dtype().equal(py::dtype::of<float>())) {
    throw py::type_error(std::string(name) + " must be float32" + (allow_f16 ? " or float16" : "") +
                         ", got " + std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) {
    throw std::invalid_argument(std::string(name) + " must have " + std::to_string(ndim) +
                                " dimensions, got " + std::to_string(a.ndim()));
  }
  if (!(a.flags() & py::array::c_style)) {
    throw std::invalid_argument(std::string(name) + " must be C-contiguous");
  }
  return a;
}

sp::Interpolation parse_interp(const std::string& s) {
  if (s == "bilinear") return sp::Interpolation::kBilinear;
  if (s == "bicubic") return sp::Interpolation::kBicubic;
  throw std::invalid_argument("interpolation must be 'bilinear' or 'bicubic', got '" + s + "'");
}

sp::Convention parse_conv(const std::string& s) {
  if (s == "center") return sp::Convention::kCenter;
  if (s == "magicleap") return sp::Convention::kMagicLeap;
  if (s == "superglue") return sp::Convention::kSuperGlue;
  throw std::invalid_argument("convention must be 'center', 'magicleap' or 'superglue', got '" + s +
                              "'");
}

sp::SubpixelMethod parse_subpixel_method(const std::string& s) {
  if (s == "parabola") return sp::SubpixelMethod::kParabola;
  if (s == "centroid") return sp::SubpixelMethod::kCentroid;
  if (s == "centroid5") return sp::SubpixelMethod::kCentroid5;
  if (s == "forstner") return sp::SubpixelMethod::kForstner;
  throw std::invalid_argument(
      "subpixel_method must be 'parabola', 'centroid', 'centroid5' or 'forstner', got '" + s + "'");
}

sp::NmsSchedule parse_schedule(const std::string& s) {
  if (s == "raster") return sp::NmsSchedule::kRaster;
  if (s == "reverse") return sp::NmsSchedule::kReverseRaster;
  if (s == "jacobi") return sp::NmsSchedule::kJacobi;
  throw std::invalid_argument("schedule must be 'raster', 'reverse' or 'jacobi', got '" + s + "'");
}

void raise_on_error(int32_t error) {
  if (error & sp::kErrorNonFiniteLogits) throw std::invalid_argument("logits contain NaN or inf");
  if (error & sp::kErrorNonFiniteDescriptors) {
    throw std::invalid_argument("a sampled descriptor is not finite (NaN/inf in the coarse map)");
  }
}

sp::PostprocessParams make_params(int64_t batch, int64_t hc, int64_t wc, int64_t channels,
                                  double conf_threshold, int64_t nms_radius, int64_t border,
                                  int64_t max_keypoints, int64_t valid_h, int64_t valid_w,
                                  const std::string& interpolation, const std::string& convention,
                                  int grid_sweeps, bool subpixel = false,
                                  const std::string& subpixel_method = "centroid") {
  sp::PostprocessParams p{};
  p.batch = batch;
  p.hc = hc;
  p.wc = wc;
  p.channels = channels;
  p.conf_threshold = static_cast<float>(conf_threshold);
  p.nms_radius = nms_radius;
  p.border = border;
  p.max_keypoints = max_keypoints;
  p.valid_h = valid_h < 0 ? 8 * hc : valid_h;
  p.valid_w = valid_w < 0 ? 8 * wc : valid_w;
  p.interpolation = parse_interp(interpolation);
  p.convention = parse_conv(convention);
  p.grid_sweeps = grid_sweeps;
  p.subpixel = subpixel;
  p.subpixel_method = parse_subpixel_method(subpixel_method);
  sp::check_postprocess_params(p);
  return p;
}

// ---- CPU twins ----

py::dict postprocess_grid_cpu(const py::object& logits_obj, const py::object& coarse_obj,
                              double conf_threshold, int64_t nms_radius, int64_t border,
                              int64_t max_keypoints, int64_t valid_h, int64_t valid_w,
                              const std::string& interpolation, const std::string& convention,
                              const std::string& schedule, bool subpixel,
                              const std::string& subpixel_method, const py::object& image_obj) {
  bool lf16, cf16;
  py::array logits = checked(logits_obj, "logits", true, 4, &lf16);
  py::array coarse = checked(coarse_obj, "coarse", true, 4, &cf16);
  const int64_t b = logits.shape(0), hc = logits.shape(2), wc = logits.shape(3);
  if (logits.shape(1) != 65) throw std::invalid_argument("logits must be (B, 65, Hc, Wc)");
  if (coarse.shape(0) != b || coarse.shape(2) != hc || coarse.shape(3) != wc) {
    throw std::invalid_argument("coarse must be (B, C, Hc, Wc) with the logits' B, Hc, Wc");
  }
  const sp::PostprocessParams p =
      make_params(b, hc, wc, coarse.shape(1), conf_threshold, nms_radius, border, max_keypoints,
                  valid_h, valid_w, interpolation, convention, 2, subpixel, subpixel_method);
  const float* image_ptr = nullptr;
  py::array image;
  if (!image_obj.is_none()) {
    bool if16;
    image = checked(image_obj, "image", false, 4, &if16);
    if (image.shape(0) != b || image.shape(1) != 1 || image.shape(2) != p.height() ||
        image.shape(3) != p.width()) {
      throw std::invalid_argument("image must be (B, 1, 8 Hc, 8 Wc) with the logits' B, Hc, Wc");
    }
    image_ptr = static_cast<const float*>(image.data());
  }  // none with kForstner: sp::postprocess_grid_cpu throws
  const sp::NmsSchedule sched = parse_schedule(schedule);
  const int64_t k = p.k_out(), c = p.channels, h = p.height(), w = p.width();
  py::array_t<float> heat({b, h, w});
  py::array_t<uint8_t> state({b, h, w});
  py::array_t<float> kps({b, k, int64_t{2}});
  py::array_t<float> scores({b, k});
  py::array_t<float> desc({b, k, c});
  py::array_t<int32_t> counts(b);
  std::fill(kps.mutable_data(), kps.mutable_data() + kps.size(), 0.0f);
  std::fill(scores.mutable_data(), scores.mutable_data() + scores.size(), 0.0f);
  std::fill(desc.mutable_data(), desc.mutable_data() + desc.size(), 0.0f);
  int32_t error;
  {
    py::gil_scoped_release nogil;
    error =
        sp::postprocess_grid_cpu(logits.data(), lf16, coarse.data(), cf16, image_ptr, p, sched,
                                 heat.mutable_data(), state.mutable_data(), kps.mutable_data(),
                                 scores.mutable_data(), desc.mutable_data(), counts.mutable_data());
  }
  raise_on_error(error);
  py::dict d;
  d["keypoints"] = kps;
  d["scores"] = scores;
  d["descriptors"] = desc;
  d["counts"] = counts;
  d["heat"] = heat;
  d["state"] = state;
  return d;
}

py::tuple nms_grid_cpu(const py::object& heat_obj, double conf_threshold, int64_t nms_radius,
                       int64_t valid_h, int64_t valid_w, const std::string& schedule,
                       int64_t max_sweeps) {
  bool f16;
  py::array heat = checked(heat_obj, "heat", false, 3, &f16);
  const int64_t b = heat.shape(0), h = heat.shape(1), w = heat.shape(2);
  if (b < 1 || h < 1 || w < 1) throw std::invalid_argument("heat must be non-empty (B, H, W)");
  if (valid_h < 0) valid_h = h;
  if (valid_w < 0) valid_w = w;
  if (valid_h < 1 || valid_h > h || valid_w < 1 || valid_w > w) {
    throw std::invalid_argument("valid size must satisfy 1 <= h <= H and 1 <= w <= W");
  }
  if (nms_radius < 0) throw std::invalid_argument("nms_radius must be >= 0");
  const sp::NmsSchedule sched = parse_schedule(schedule);
  const float thr = static_cast<float>(conf_threshold);
  py::array_t<uint8_t> state({b, h, w});
  const float* hp = static_cast<const float*>(heat.data());
  uint8_t* sp_ = state.mutable_data();
  int64_t sweeps;
  {
    py::gil_scoped_release nogil;
    for (int64_t i = 0; i < b * h * w; ++i) {
      const int64_t y = (i / w) % h, x = i % w;
      sp_[i] = sp::nms_initial_state(hp[i], y, x, valid_h, valid_w, thr);
    }
    sweeps = sp::nms_fixed_point_grid_cpu(hp, sp_, b, h, w, valid_h, valid_w, nms_radius, sched,
                                          max_sweeps);
  }
  return py::make_tuple(state, sweeps);
}

int64_t postprocess_k_out(int64_t batch, int64_t hc, int64_t wc, int64_t nms_radius, int64_t border,
                          int64_t max_keypoints, int64_t valid_h, int64_t valid_w) {
  return make_params(batch, hc, wc, 1, 0.0, nms_radius, border, max_keypoints, valid_h, valid_w,
                     "bilinear", "center", 0)
      .k_out();
}

#if defined(SUPERPOINT_RT_WITH_CUDA)
// ---- GPU entry points ----

void check_cuda(int err, const char* what) {
  if (err != 0) {
    throw std::runtime_error(std::string(what) + ": " +
                             cudaGetErrorString(static_cast<cudaError_t>(err)));
  }
}

int64_t postprocess_workspace_bytes(int64_t batch, int64_t hc, int64_t wc, int64_t channels,
                                    int64_t nms_radius, int64_t border, int64_t max_keypoints,
                                    int64_t valid_h, int64_t valid_w) {
  return static_cast<int64_t>(sp::postprocess_workspace_bytes(
      make_params(batch, hc, wc, channels, 0.0, nms_radius, border, max_keypoints, valid_h, valid_w,
                  "bilinear", "center", 0)));
}

void postprocess_cuda(uintptr_t logits, bool logits_f16, uintptr_t coarse, bool coarse_f16,
                      int64_t batch, int64_t hc, int64_t wc, int64_t channels,
                      double conf_threshold, int64_t nms_radius, int64_t border,
                      int64_t max_keypoints, int64_t valid_h, int64_t valid_w,
                      const std::string& interpolation, const std::string& convention,
                      uintptr_t workspace, int64_t workspace_bytes, uintptr_t keypoints,
                      uintptr_t scores, uintptr_t descriptors, uintptr_t counts, uintptr_t error,
                      uintptr_t stream, int grid_sweeps, bool subpixel,
                      const std::string& subpixel_method, uintptr_t image) {
  const sp::PostprocessParams p = make_params(
      batch, hc, wc, channels, conf_threshold, nms_radius, border, max_keypoints, valid_h, valid_w,
      interpolation, convention, grid_sweeps, subpixel, subpixel_method);
  if (logits == 0 || coarse == 0 || workspace == 0 || keypoints == 0 || scores == 0 ||
      descriptors == 0 || counts == 0 || error == 0) {
    throw std::invalid_argument("postprocess_cuda: null pointer");
  }
  if (image == 0 && p.needs_image()) {
    throw std::invalid_argument(
        "postprocess_cuda: subpixel_method 'forstner' needs the image (B, 1, 8 Hc, 8 Wc) float32");
  }
  int err;
  {
    py::gil_scoped_release nogil;
    err = sp::postprocess_cuda(
        reinterpret_cast<const void*>(logits), logits_f16, reinterpret_cast<const void*>(coarse),
        coarse_f16, reinterpret_cast<const float*>(image), p, reinterpret_cast<void*>(workspace),
        static_cast<size_t>(workspace_bytes), reinterpret_cast<float*>(keypoints),
        reinterpret_cast<float*>(scores), reinterpret_cast<float*>(descriptors),
        reinterpret_cast<int32_t*>(counts), reinterpret_cast<int32_t*>(error),
        reinterpret_cast<void*>(stream));
  }
  check_cuda(err, "postprocess_cuda");
}

py::dict cuda_info() {
  int count = 0, driver = 0, runtime = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver / no device is not an error here
    count = 0;
  }
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  py::dict d;
  d["device_count"] = count;
  d["driver_version"] = driver;
  d["runtime_version"] = runtime;
  return d;
}
#endif

}  // namespace

void register_cuda_ops(py::module_& m) {
  m.def("postprocess_grid_cpu", &postprocess_grid_cpu, py::arg("logits"), py::arg("coarse"),
        py::arg("conf_threshold"), py::arg("nms_radius"), py::arg("border"),
        py::arg("max_keypoints") = -1, py::arg("valid_h") = -1, py::arg("valid_w") = -1,
        py::arg("interpolation") = "bilinear", py::arg("convention") = "center",
        py::arg("schedule") = "raster", py::arg("subpixel") = false,
        py::arg("subpixel_method") = "centroid", py::arg("image") = py::none(),
        "CPU twin of postprocess_cuda: logits (B,65,Hc,Wc), coarse (B,C,Hc,Wc) float32/float16, "
        "image (B,1,8Hc,8Wc) float32 network input (for subpixel_method 'forstner') -> "
        "dict(keypoints (B,K,2), scores (B,K), descriptors (B,K,C), counts (B,), heat, state)");
  m.def("nms_grid_cpu", &nms_grid_cpu, py::arg("heat"), py::arg("conf_threshold"),
        py::arg("nms_radius"), py::arg("valid_h") = -1, py::arg("valid_w") = -1,
        py::arg("schedule") = "raster", py::arg("max_sweeps") = -1,
        "CPU twin of the GPU NMS fixed point: heat (B,H,W) -> (state uint8 (B,H,W): 0 none, "
        "1 undecided, 2 kept, 3 suppressed; sweeps)");
  m.def("postprocess_k_out", &postprocess_k_out, py::arg("batch"), py::arg("hc"), py::arg("wc"),
        py::arg("nms_radius"), py::arg("border"), py::arg("max_keypoints") = -1,
        py::arg("valid_h") = -1, py::arg("valid_w") = -1,
        "rows K per image of the padded GPU outputs: min(max_keypoints, NMS capacity bound)");
#if defined(SUPERPOINT_RT_WITH_CUDA)
  m.def("postprocess_workspace_bytes", &postprocess_workspace_bytes, py::arg("batch"),
        py::arg("hc"), py::arg("wc"), py::arg("channels"), py::arg("nms_radius"), py::arg("border"),
        py::arg("max_keypoints") = -1, py::arg("valid_h") = -1, py::arg("valid_w") = -1,
        "device scratch bytes postprocess_cuda needs");
  m.def(
      "postprocess_cuda", &postprocess_cuda, py::arg("logits"), py::arg("logits_f16"),
      py::arg("coarse"), py::arg("coarse_f16"), py::arg("batch"), py::arg("hc"), py::arg("wc"),
      py::arg("channels"), py::arg("conf_threshold"), py::arg("nms_radius"), py::arg("border"),
      py::arg("max_keypoints"), py::arg("valid_h"), py::arg("valid_w"), py::arg("interpolation"),
      py::arg("convention"), py::arg("workspace"), py::arg("workspace_bytes"), py::arg("keypoints"),
      py::arg("scores"), py::arg("descriptors"), py::arg("counts"), py::arg("error"),
      py::arg("stream"), py::arg("grid_sweeps") = 2, py::arg("subpixel") = false,
      py::arg("subpixel_method") = "centroid", py::arg("image") = 0,
      "enqueue the whole post-processing on `stream` (device pointers as ints; image: the network "
      "input (B,1,8Hc,8Wc) float32, for subpixel_method 'forstner'); no sync");
  m.def("cuda_info", &cuda_info, "dict(device_count, driver_version, runtime_version)");
#endif
}
