// superpoint_rt._C: the one pybind11 module binding every op.
//
// CPU entry points take NumPy arrays. They never convert silently: a wrong dtype raises TypeError,
// a wrong shape / layout / value raises ValueError (std::invalid_argument). The compute runs with
// the GIL released. The Python wrappers in superpoint_rt.ops validate first with friendlier
// messages; the checks here are the last line that keeps every read in bounds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "detect/detect.h"
#include "ext_cuda.h"
#include "heatmap/heatmap.h"
#include "nms/nms.h"
#include "sample_descriptors/sample_descriptors.h"

namespace py = pybind11;

#ifndef SUPERPOINT_RT_VERSION
#define SUPERPOINT_RT_VERSION "unknown"
#endif
#ifndef SUPERPOINT_RT_CUDA_ARCHS
#define SUPERPOINT_RT_CUDA_ARCHS ""
#endif

namespace {

enum class DType { kFloat32, kFloat16 };

std::string prefix(const char* op, const char* name) {
  return std::string(op) + ": " + name + " ";
}

// Returns the array behind `obj` after checking type, dtype, layout and ndim (one of ndims).
py::array as_checked_array(const py::object& obj, const char* op, const char* name, bool allow_f16,
                           std::initializer_list<int> ndims, DType* dtype) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(prefix(op, name) + "must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().equal(py::dtype::of<float>())) {
    *dtype = DType::kFloat32;
  } else if (allow_f16 && a.dtype().equal(py::dtype("float16"))) {
    *dtype = DType::kFloat16;
  } else {
    throw py::type_error(prefix(op, name) + "must be " +
                         (allow_f16 ? "float32 or float16" : "float32") +
                         " (native byte order), got " + std::string(py::str(a.dtype())));
  }
  bool ndim_ok = false;
  std::string allowed;
  for (int d : ndims) {
    ndim_ok = ndim_ok || a.ndim() == d;
    allowed += (allowed.empty() ? "" : " or ") + std::to_string(d);
  }
  if (!ndim_ok) {
    throw std::invalid_argument(prefix(op, name) + "must have " + allowed + " dimensions, got " +
                                std::to_string(a.ndim()));
  }
  if (!(a.flags() & py::array::c_style)) {
    throw std::invalid_argument(prefix(op, name) + "must be C-contiguous");
  }
  if (reinterpret_cast<uintptr_t>(a.data()) % a.itemsize() != 0) {
    throw std::invalid_argument(prefix(op, name) + "must be aligned");
  }
  return a;
}

float to_float_threshold(double t, const char* op) {
  if (std::isnan(t)) throw std::invalid_argument(std::string(op) + ": conf_threshold is NaN");
  if (t > FLT_MAX) return INFINITY;
  if (t < -FLT_MAX) return -INFINITY;
  return static_cast<float>(t);
}

// ---- heatmap ----
py::array_t<float> heatmap(const py::object& obj) {
  DType dt;
  py::array logits = as_checked_array(obj, "heatmap", "logits", true, {3, 4}, &dt);
  const bool batched = logits.ndim() == 4;
  const int64_t b = batched ? logits.shape(0) : 1;
  const int64_t ch = logits.shape(batched ? 1 : 0);
  const int64_t hc = logits.shape(batched ? 2 : 1), wc = logits.shape(batched ? 3 : 2);
  if (ch != sp::kCellChannels) {
    throw std::invalid_argument(
        "heatmap: logits must have 65 channels (64 cell pixels + dustbin), got " +
        std::to_string(ch));
  }
  if (hc <= 0 || wc <= 0)
    throw std::invalid_argument("heatmap: logits must have Hc > 0 and Wc > 0");
  std::vector<py::ssize_t> shape;
  if (batched) shape.push_back(b);
  shape.push_back(sp::kCell * hc);
  shape.push_back(sp::kCell * wc);
  py::array_t<float> heat(shape);
  float* out = heat.mutable_data();
  const void* in = logits.data();
  {
    py::gil_scoped_release nogil;
    if (dt == DType::kFloat32) {
      sp::heatmap_cpu(static_cast<const float*>(in), out, b, hc, wc);
    } else {
      sp::heatmap_cpu(static_cast<const uint16_t*>(in), out, b, hc, wc);
    }
  }
  return heat;
}

// ---- nms ----
py::array_t<int64_t> nms(const py::object& obj, double conf_threshold, int64_t nms_radius) {
  DType dt;
  py::array heat = as_checked_array(obj, "nms", "heat", false, {2}, &dt);
  const int64_t h = heat.shape(0), w = heat.shape(1);
  if (h <= 0 || w <= 0) throw std::invalid_argument("nms: heat must have H > 0 and W > 0");
  if (nms_radius < 0) throw std::invalid_argument("nms: nms_radius must be >= 0");
  const float thr = to_float_threshold(conf_threshold, "nms");
  const float* p = static_cast<const float*>(heat.data());
  std::vector<int64_t> kept;
  {
    py::gil_scoped_release nogil;
    sp::nms_cpu(p, h, w, thr, nms_radius, sp::NmsReportRect{0, h, 0, w}, -1, &kept);
  }
  py::array_t<int64_t> out(static_cast<py::ssize_t>(kept.size()));
  std::copy(kept.begin(), kept.end(), out.mutable_data());
  return out;
}

// ---- detect ----
py::tuple detect_result_to_numpy(const sp::DetectResult& r) {
  const py::ssize_t n = static_cast<py::ssize_t>(r.scores.size());
  py::array_t<float> kps({n, py::ssize_t{2}});
  py::array_t<float> scores(n);
  std::copy(r.keypoints_xy.begin(), r.keypoints_xy.end(), kps.mutable_data());
  std::copy(r.scores.begin(), r.scores.end(), scores.mutable_data());
  return py::make_tuple(kps, scores);
}

py::object detect(const py::object& obj, double conf_threshold, int64_t nms_radius, int64_t border,
                  int64_t max_keypoints, int64_t valid_h, int64_t valid_w) {
  DType dt;
  py::array heat = as_checked_array(obj, "detect", "heat", false, {2, 3}, &dt);
  const bool batched = heat.ndim() == 3;
  const int64_t b = batched ? heat.shape(0) : 1;
  const int64_t h = heat.shape(batched ? 1 : 0), w = heat.shape(batched ? 2 : 1);
  if (h <= 0 || w <= 0) throw std::invalid_argument("detect: heat must have H > 0 and W > 0");
  if (nms_radius < 0) throw std::invalid_argument("detect: nms_radius must be >= 0");
  if (border < 0) throw std::invalid_argument("detect: border must be >= 0");
  if (valid_h < 0) valid_h = h;
  if (valid_w < 0) valid_w = w;
  if (valid_h < 1 || valid_h > h || valid_w < 1 || valid_w > w) {
    throw std::invalid_argument("detect: valid_size must satisfy 1 <= h <= H and 1 <= w <= W");
  }
  const float thr = to_float_threshold(conf_threshold, "detect");
  const float* p = static_cast<const float*>(heat.data());
  std::vector<sp::DetectResult> results(static_cast<size_t>(b));
  {
    py::gil_scoped_release nogil;
    for (int64_t i = 0; i < b; ++i) {
      results[i] = sp::detect_cpu(p + i * h * w, h, w, thr, nms_radius, border, valid_h, valid_w,
                                  max_keypoints);
    }
  }
  if (!batched) return detect_result_to_numpy(results[0]);
  py::list out;
  for (const auto& r : results) out.append(detect_result_to_numpy(r));
  return out;
}

// ---- sample_descriptors ----
sp::Interpolation parse_interpolation(const std::string& s) {
  if (s == "bilinear") return sp::Interpolation::kBilinear;
  if (s == "bicubic") return sp::Interpolation::kBicubic;
  throw std::invalid_argument("sample_descriptors: unknown interpolation '" + s +
                              "', expected 'bilinear' or 'bicubic'");
}

sp::Convention parse_convention(const std::string& s) {
  if (s == "center") return sp::Convention::kCenter;
  if (s == "magicleap") return sp::Convention::kMagicLeap;
  if (s == "superglue") return sp::Convention::kSuperGlue;
  throw std::invalid_argument("sample_descriptors: unknown convention '" + s +
                              "', expected 'center', 'magicleap' or 'superglue'");
}

py::array_t<float> sample_descriptors(const py::object& coarse_obj, const py::object& kps_obj,
                                      const std::string& interpolation,
                                      const std::string& convention) {
  const sp::Interpolation interp = parse_interpolation(interpolation);
  const sp::Convention conv = parse_convention(convention);
  DType dt, kdt;
  py::array coarse = as_checked_array(coarse_obj, "sample_descriptors", "coarse", true, {3}, &dt);
  py::array kps = as_checked_array(kps_obj, "sample_descriptors", "keypoints", false, {2}, &kdt);
  const int64_t c = coarse.shape(0), hc = coarse.shape(1), wc = coarse.shape(2);
  if (c <= 0 || hc <= 0 || wc <= 0) {
    throw std::invalid_argument("sample_descriptors: coarse must have C, Hc, Wc > 0");
  }
  if (kps.shape(1) != 2) {
    throw std::invalid_argument(
        "sample_descriptors: keypoints must have shape (N, 2), got second dim " +
        std::to_string(kps.shape(1)));
  }
  const int64_t n = kps.shape(0);
  py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(c)});
  float* o = out.mutable_data();
  const void* cp = coarse.data();
  const float* kp = static_cast<const float*>(kps.data());
  {
    py::gil_scoped_release nogil;
    if (dt == DType::kFloat32) {
      sp::sample_descriptors_cpu(static_cast<const float*>(cp), c, hc, wc, kp, n, interp, conv, o);
    } else {
      sp::sample_descriptors_cpu(static_cast<const uint16_t*>(cp), c, hc, wc, kp, n, interp, conv,
                                 o);
    }
  }
  return out;
}

// ---- build_info ----
std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

bool sanitized() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

// cuda_archs: the CUDA architectures the target compiled, as CMake passed them
// (SUPERPOINT_RT_CUDA_ARCHS, comma-separated): "80" = sm_80 SASS + compute_80 PTX, "90-real" SASS
// only, "90-virtual" PTX only.
py::dict build_info() {
  py::list archs;
  const std::string s = SUPERPOINT_RT_CUDA_ARCHS;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find_first_of(",;", start);
    if (end == std::string::npos) end = s.size();
    if (end > start) archs.append(s.substr(start, end - start));
    start = end + 1;
  }
  py::dict d;
  d["version"] = SUPERPOINT_RT_VERSION;
#if defined(SUPERPOINT_RT_WITH_CUDA)
  d["cuda"] = true;
#else
  d["cuda"] = false;
#endif
  d["cuda_archs"] = archs;
  d["sanitize"] = sanitized();
  d["compiler"] = compiler_name();
  return d;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "superpoint_rt post-processing ops (C++; use superpoint_rt.ops for the validated API)";
  m.def("heatmap", &heatmap, py::arg("logits"),
        "logits float32/float16 (B, 65, Hc, Wc) or (65, Hc, Wc) -> heat float32 (B, 8Hc, 8Wc) or "
        "(8Hc, 8Wc)");
  m.def("nms", &nms, py::arg("heat"), py::arg("conf_threshold"), py::arg("nms_radius"),
        "heat float32 (H, W) -> int64 (K,) kept linear indices y*W+x, descending score");
  m.def("detect", &detect, py::arg("heat"), py::arg("conf_threshold"), py::arg("nms_radius"),
        py::arg("border"), py::arg("max_keypoints") = -1, py::arg("valid_h") = -1,
        py::arg("valid_w") = -1,
        "heat float32 (H, W) -> (keypoints (N, 2) x,y float32, scores (N,)); (B, H, W) -> list of "
        "those. max_keypoints/valid_h/valid_w < 0: no limit / full size");
  m.def("sample_descriptors", &sample_descriptors, py::arg("coarse"), py::arg("keypoints"),
        py::arg("interpolation") = "bilinear", py::arg("convention") = "center",
        "coarse float32/float16 (C, Hc, Wc), keypoints float32 (N, 2) x,y -> (N, C) unit rows");
  m.def("build_info", &build_info,
        "dict: version, cuda, cuda_archs (as compiled), sanitize, compiler");
  register_cuda_ops(m);  // CPU grid twins of the CUDA kernels, and the GPU entry points when built
}
