/* C kernels used by tests/plugins/test_ckernel.py to exercise deeplink.ckernel.CKernel: what the
 * kernels receive (t_describe), each way of declining or failing, and each argument kind. */
#include <deeplink/kernel.h>
#include <math.h>

DL_KERNEL_LIBRARY()

/* Element (i-th in row-major order over t's shape) of a float tensor, any strides. */
static int64_t offset_of(const DLTensor* t, int64_t i) {
  int64_t off = 0;
  for (int32_t d = t->ndim - 1; d >= 0; --d) {
    off += (i % t->shape[d]) * t->strides[d];
    i /= t->shape[d];
  }
  return off;
}

static double get(const DLTensor* t, int64_t i) {
  const char* p = (const char*)dl_first(t);
  return t->dtype.bits == 64 ? ((const double*)p)[offset_of(t, i)] : ((const float*)p)[offset_of(t, i)];
}

static void set(DLTensor* t, int64_t i, double v) {
  char* p = (char*)dl_first(t);
  if (t->dtype.bits == 64) ((double*)p)[offset_of(t, i)] = v;
  else ((float*)p)[offset_of(t, i)] = (float)v;
}

static int is_float(const DLTensor* t) {
  return dl_is_dtype(t, kDLFloat, 32) || dl_is_dtype(t, kDLFloat, 64);
}

/* out = self + alpha * other, float32/float64, all shapes already broadcast by CKernel. */
DL_KERNEL_EXPORT dl_status t_add(DLTensor* out, const DLTensor* self, const DLTensor* other, double alpha) {
  if (!is_float(out) || !dl_same_dtype(out, self) || !dl_same_dtype(out, other))
    return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_add: float32/float64 only");
  for (int32_t d = 0; d < out->ndim; ++d)
    if (self->shape[d] != out->shape[d] || other->shape[d] != out->shape[d])
      return dl_kernel_fail(DL_INVALID_ARGUMENT, "t_add: shapes not broadcast");
  const int64_t n = dl_numel(out);
  for (int64_t i = 0; i < n; ++i) set(out, i, get(self, i) + alpha * get(other, i));
  return DL_OK;
}

/* add.Scalar: out = self + alpha * other, with the scalars in another order than the schema's and
 * of two C types (float, int64_t); "like:self" output. */
DL_KERNEL_EXPORT dl_status t_add_scalar(DLTensor* out, const DLTensor* self, float alpha, int64_t other) {
  if (!is_float(self)) return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_add_scalar: float only");
  const int64_t n = dl_numel(out);
  for (int64_t i = 0; i < n; ++i) set(out, i, get(self, i) + (double)alpha * (double)other);
  return DL_OK;
}

/* clamp with optional tensor bounds: NULL when the Python argument is None. */
DL_KERNEL_EXPORT dl_status t_clamp(DLTensor* out, const DLTensor* self, const DLTensor* lo, const DLTensor* hi) {
  if (!is_float(out)) return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_clamp: float only");
  const int64_t n = dl_numel(out);
  for (int64_t i = 0; i < n; ++i) {
    double v = get(self, i);
    if (lo && v < get(lo, i)) v = get(lo, i);
    if (hi && v > get(hi, i)) v = get(hi, i);
    set(out, i, v);
  }
  return DL_OK;
}

/* Two outputs; declines non-contiguous input with DL_NOT_IMPLEMENTED. */
DL_KERNEL_EXPORT dl_status t_aminmax(DLTensor* lo, DLTensor* hi, const DLTensor* self) {
  if (!is_float(self)) return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_aminmax: float only");
  if (!dl_is_contiguous(self)) return dl_kernel_fail(DL_NOT_IMPLEMENTED, "t_aminmax: contiguous input only");
  const int64_t n = dl_numel(self);
  if (n == 0) return dl_kernel_fail(DL_INVALID_ARGUMENT, "t_aminmax: empty input");
  double a = get(self, 0), b = a;
  for (int64_t i = 1; i < n; ++i) {
    a = fmin(a, get(self, i));
    b = fmax(b, get(self, i));
  }
  set(lo, 0, a);
  set(hi, 0, b);
  return DL_OK;
}

/* Writes what it was given into an int64 output: the int list, then its length, then keepdim. */
DL_KERNEL_EXPORT dl_status t_echo_dims(DLTensor* out, const DLTensor* self, const int64_t* dims, int64_t n, int keepdim) {
  (void)self;
  int64_t* o = (int64_t*)dl_first(out);
  for (int64_t i = 0; i < n; ++i) o[i * out->strides[0]] = dims[i];
  o[n * out->strides[0]] = n;
  o[(n + 1) * out->strides[0]] = keepdim;
  return DL_OK;
}

/* Describes a DLTensor into an int64 output: device_type, device_id, ndim, code, bits, lanes,
 * byte_offset, (data + byte_offset) as an integer, then shape..., strides... */
static void describe(int64_t* o, const DLTensor* t) {
  o[0] = t->device.device_type;
  o[1] = t->device.device_id;
  o[2] = t->ndim;
  o[3] = t->dtype.code;
  o[4] = t->dtype.bits;
  o[5] = t->dtype.lanes;
  o[6] = (int64_t)t->byte_offset;
  o[7] = (int64_t)(intptr_t)dl_first(t);
  for (int32_t d = 0; d < t->ndim; ++d) {
    o[8 + d] = t->shape[d];
    o[8 + t->ndim + d] = t->strides[d];
  }
}

DL_KERNEL_EXPORT dl_status t_describe(DLTensor* out, const DLTensor* self, const DLTensor* other) {
  int64_t* o = (int64_t*)dl_first(out);
  describe(o, self);
  describe(o + 32, other);
  return DL_OK;
}

/* Always fails, with a message: the error path. */
DL_KERNEL_EXPORT dl_status t_fail(DLTensor* out, const DLTensor* self) {
  (void)out;
  return dl_kernel_fail(DL_INVALID_ARGUMENT, "t_fail: refusing a rank-%d input on purpose", (int)self->ndim);
}

/* addcmul with the scalar first, between the output and the inputs: the router passes integer
 * and floating arguments in their own registers (csrc/shim/ckernel_route.cpp). */
DL_KERNEL_EXPORT dl_status t_addcmul_mixed(DLTensor* out, double value, const DLTensor* self, float half,
                                           const DLTensor* t1, const DLTensor* t2) {
  if (!is_float(out)) return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_addcmul_mixed: float only");
  const int64_t n = dl_numel(out);
  for (int64_t i = 0; i < n; ++i) set(out, i, get(self, i) + 2.0 * (double)half * value * get(t1, i) * get(t2, i));
  return DL_OK;
}

/* addcmul taking more integer-class arguments than x86-64 passes in registers (7): such a
 * kernel stays on the Python (cffi) path. out = self + v1 * v2 * v3 * t1 * t2. */
DL_KERNEL_EXPORT dl_status t_addcmul_many(DLTensor* out, const DLTensor* self, const DLTensor* t1,
                                          const DLTensor* t2, int64_t v1, int64_t v2, int64_t v3) {
  if (!is_float(out)) return dl_kernel_fail(DL_DTYPE_NOT_SUPPORTED, "t_addcmul_many: float only");
  const int64_t n = dl_numel(out);
  for (int64_t i = 0; i < n; ++i) set(out, i, get(self, i) + (double)(v1 * v2 * v3) * get(t1, i) * get(t2, i));
  return DL_OK;
}
