// Data-movement and indexing aclnn operators of the emulator: arange, constant padding, cat,
// triu/tril, flip, index_select, gather, scatter_add, index, embedding (+ backward), sort, topk.
#include "emu_aten.h"

using namespace ascend_emu;

ACLNN_OP(aclnnArange, (const aclScalar* start, const aclScalar* end, const aclScalar* step, aclTensor* out), {
  ScalarValue a = scalar_arg(start, "start"), b = scalar_arg(end, "end"), c = scalar_arg(step, "step");
  TensorDesc o = tensor_arg(out, "out");
  require_dtype("out", o, kNumeric);
  return plan({&o}, [=](bool meta) {
    at::Tensor y = view(o, meta);
    auto opts = at::TensorOptions().dtype(y.scalar_type()).device(meta ? at::kMeta : at::kCPU);
    emit("out", y, at::arange(to_scalar(a), to_scalar(b), to_scalar(c), opts));
  });
})

ACLNN_OP(aclnnConstantPadNd, (const aclTensor* self, const aclIntArray* pad, const aclScalar* value, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  std::vector<int64_t> p = int_array_arg(pad, "pad");
  ScalarValue v = scalar_arg(value, "value");
  require_dtype("self", s, kAll);
  require(p.size() % 2 == 0 && p.size() / 2 <= s.dims.size(), "pad length " + std::to_string(p.size()) + " is invalid");
  return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), at::constant_pad_nd(view(s, meta), p, to_scalar(v))); });
})

ACLNN_OP(aclnnCat, (const aclTensorList* tensors, int64_t dim, aclTensor* out), {
  std::vector<TensorDesc> ts = tensor_list_arg(tensors, "tensors");
  TensorDesc o = tensor_arg(out, "out");
  require(!ts.empty(), "tensors is empty");
  for (const TensorDesc& t : ts) require_dtype("tensors[i]", t, kAll);
  std::vector<TensorDesc> all = ts;
  all.push_back(o);
  return plan_list(all, [=](bool meta) {
    std::vector<at::Tensor> xs;
    for (const TensorDesc& t : ts) xs.push_back(view(t, meta));
    emit("out", view(o, meta), at::cat(xs, dim));
  });
})

#define TRI(NAME, FN)                                                                \
  ACLNN_OP(NAME, (const aclTensor* self, int64_t diagonal, aclTensor* out), {        \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");             \
    require_dtype("self", s, kAll);                                                  \
    require(s.dims.size() >= 2, "self must have at least 2 dimensions");             \
    return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), FN(view(s, meta), diagonal)); }); \
  })
TRI(aclnnTriu, at::triu)
TRI(aclnnTril, at::tril)

ACLNN_OP(aclnnFlip, (const aclTensor* self, const aclIntArray* dims, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  std::vector<int64_t> d = int_array_arg(dims, "dims");
  require_dtype("self", s, kAll);
  return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), at::flip(view(s, meta), d)); });
})

ACLNN_OP(aclnnIndexSelect, (const aclTensor* self, int64_t dim, const aclTensor* index, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), i = tensor_arg(index, "index"), o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  require_dtype("index", i, kIndex);
  return plan({&s, &i, &o}, [=](bool meta) { emit("out", view(o, meta), at::index_select(view(s, meta), dim, view(i, meta))); });
})

ACLNN_OP(aclnnGather, (const aclTensor* self, int64_t dim, const aclTensor* index, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), i = tensor_arg(index, "index"), o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  require_dtype("index", i, kIndex);
  return plan({&s, &i, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::gather(view(s, meta), dim, view(i, meta).to(at::kLong)));
  });
})

ACLNN_OP(aclnnScatterAdd, (const aclTensor* self, int64_t dim, const aclTensor* index, const aclTensor* src, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), i = tensor_arg(index, "index"), r = tensor_arg(src, "src");
  TensorDesc o = tensor_arg(out, "out");
  require_dtype("self", s, kNumeric);
  require_dtype("index", i, kIndex);
  return plan({&s, &i, &r, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::scatter_add(view(s, meta), dim, view(i, meta).to(at::kLong), view(r, meta)));
  });
})

// Advanced indexing self[indices[0], indices[1], ...]; every index tensor must be given.
ACLNN_OP(aclnnIndex, (const aclTensor* self, const aclTensorList* indices, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  std::vector<TensorDesc> idx = tensor_list_arg(indices, "indices");
  for (const TensorDesc& t : idx) require_dtype("indices[i]", t, {ACL_INT32, ACL_INT64, ACL_BOOL, ACL_UINT8});
  std::vector<TensorDesc> all = idx;
  all.push_back(s);
  all.push_back(o);
  // Boolean indices give data-dependent shapes, so validation happens when the task runs.
  return plan_list(all, [=](bool meta) {
    c10::List<c10::optional<at::Tensor>> list;
    for (const TensorDesc& t : idx) list.push_back(view(t, meta));
    emit("out", view(o, meta), at::index(view(s, meta), list));
  }, 0, false);
})

ACLNN_OP(aclnnEmbedding, (const aclTensor* weight, const aclTensor* indices, aclTensor* out), {
  TensorDesc w = tensor_arg(weight, "weight"), i = tensor_arg(indices, "indices"), o = tensor_arg(out, "out");
  require_dtype("weight", w, kAll);
  require_dtype("indices", i, kIndex);
  require(w.dims.size() == 2, "weight must be 2-D");
  return plan({&w, &i, &o}, [=](bool meta) { emit("out", view(o, meta), at::embedding(view(w, meta), view(i, meta))); });
})

ACLNN_OP(aclnnEmbeddingDenseBackward, (const aclTensor* grad, const aclTensor* indices, uint64_t numWeights,
                                       uint64_t paddingIdx, bool scaleGradByFreq, const aclTensor* out), {
  TensorDesc g = tensor_arg(grad, "grad"), i = tensor_arg(indices, "indices"), o = tensor_arg(out, "out");
  require_dtype("grad", g, kFloats);
  require_dtype("indices", i, kNumeric);
  // paddingIdx is unsigned in the API; a negative aten padding_idx arrives as a huge value.
  int64_t pad = static_cast<int64_t>(paddingIdx);
  return plan({&g, &i, &o}, [=](bool meta) {
    at::Tensor idx = view(i, meta).to(at::kLong);
    emit("out", view(o, meta),
         at::embedding_dense_backward(f32(view(g, meta)), idx, static_cast<int64_t>(numWeights), pad, scaleGradByFreq));
  }, 4096);
})

ACLNN_OP(aclnnSort, (const aclTensor* self, bool stable, int64_t dim, bool descending, aclTensor* valuesOut,
                     aclTensor* indicesOut), {
  TensorDesc s = tensor_arg(self, "self"), v = tensor_arg(valuesOut, "valuesOut"), i = tensor_arg(indicesOut, "indicesOut");
  require_dtype("self", s, kNumeric);
  return plan({&s, &v, &i}, [=](bool meta) {
    auto r = at::sort(view(s, meta), stable, dim, descending);
    emit("valuesOut", view(v, meta), std::get<0>(r));
    emit("indicesOut", view(i, meta), std::get<1>(r));
  }, 1024);
})

ACLNN_OP(aclnnTopk, (const aclTensor* self, int64_t k, int64_t dim, bool largest, bool sorted, aclTensor* valuesOut,
                     aclTensor* indicesOut), {
  TensorDesc s = tensor_arg(self, "self"), v = tensor_arg(valuesOut, "valuesOut"), i = tensor_arg(indicesOut, "indicesOut");
  require_dtype("self", s, kNumeric);
  return plan({&s, &v, &i}, [=](bool meta) {
    auto r = at::topk(view(s, meta), k, dim, largest, sorted);
    emit("valuesOut", view(v, meta), std::get<0>(r));
    emit("indicesOut", view(i, meta), std::get<1>(r));
  }, 1024);
})

// reduce: 0 replace, 1 add, 2 multiply.
ACLNN_OP(aclnnScatter, (const aclTensor* self, int64_t dim, const aclTensor* index, const aclTensor* src, int64_t reduce,
                        aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), i = tensor_arg(index, "index"), r = tensor_arg(src, "src");
  TensorDesc o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  require_dtype("index", i, kIndex);
  require(reduce >= 0 && reduce <= 2, "reduce must be 0, 1 or 2");
  return plan({&s, &i, &r, &o}, [=](bool meta) {
    at::Tensor x = view(s, meta), idx = view(i, meta).to(at::kLong), y = view(r, meta);
    emit("out", view(o, meta), reduce == 0 ? at::scatter(x, dim, idx, y)
                                           : at::scatter(x, dim, idx, y, reduce == 1 ? "add" : "multiply"));
  });
})

ACLNN_OP(aclnnScatterValue, (const aclTensor* self, int64_t dim, const aclTensor* index, const aclScalar* value,
                             int64_t reduce, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), i = tensor_arg(index, "index"), o = tensor_arg(out, "out");
  ScalarValue v = scalar_arg(value, "value");
  require_dtype("self", s, kAll);
  require_dtype("index", i, kIndex);
  require(reduce >= 0 && reduce <= 2, "reduce must be 0, 1 or 2");
  return plan({&s, &i, &o}, [=](bool meta) {
    at::Tensor x = view(s, meta), idx = view(i, meta).to(at::kLong);
    emit("out", view(o, meta), reduce == 0 ? at::scatter(x, dim, idx, to_scalar(v))
                                           : at::scatter(x, dim, idx, to_scalar(v), reduce == 1 ? "add" : "multiply"));
  });
})

ACLNN_OP(aclnnIndexPutImpl, (aclTensor* selfRef, const aclTensorList* indices, const aclTensor* values,
                             const bool accumulate, const bool unsafe), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), v = tensor_arg(values, "values");
  std::vector<TensorDesc> idx = tensor_list_arg(indices, "indices");
  for (const TensorDesc& t : idx) require_dtype("indices[i]", t, {ACL_INT32, ACL_INT64, ACL_BOOL, ACL_UINT8});
  std::vector<TensorDesc> all = idx;
  all.push_back(s);
  all.push_back(v);
  return plan_list(all, [=](bool meta) {
    c10::List<c10::optional<at::Tensor>> list;
    for (const TensorDesc& t : idx) list.push_back(view(t, meta));
    at::Tensor x = view(s, meta);
    emit("selfRef", x, at::index_put(x, list, view(v, meta), accumulate));
  }, 0, false);
})

#define PAD(NAME, FN)                                                                  \
  ACLNN_OP(NAME, (const aclTensor* self, const aclIntArray* padding, aclTensor* out), { \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");               \
    std::vector<int64_t> p = int_array_arg(padding, "padding");                        \
    require_dtype("self", s, kNumeric);                                                \
    return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), FN(view(s, meta), p)); }); \
  })
PAD(aclnnReflectionPad1d, at::reflection_pad1d)
PAD(aclnnReflectionPad2d, at::reflection_pad2d)
PAD(aclnnReflectionPad3d, at::reflection_pad3d)
PAD(aclnnReplicationPad1d, at::replication_pad1d)
PAD(aclnnReplicationPad2d, at::replication_pad2d)
PAD(aclnnReplicationPad3d, at::replication_pad3d)

#define PAD_BACKWARD(NAME, FN)                                                                          \
  ACLNN_OP(NAME, (const aclTensor* gradOutput, const aclTensor* self, const aclIntArray* padding,      \
                  aclTensor* gradInput), {                                                              \
    TensorDesc g = tensor_arg(gradOutput, "gradOutput"), s = tensor_arg(self, "self");                  \
    TensorDesc o = tensor_arg(gradInput, "gradInput");                                                  \
    std::vector<int64_t> p = int_array_arg(padding, "padding");                                         \
    require_dtype("gradOutput", g, kFloatsD);                                                           \
    return plan({&g, &s, &o}, [=](bool meta) { emit("gradInput", view(o, meta), FN(view(g, meta), view(s, meta), p)); }); \
  })
PAD_BACKWARD(aclnnReflectionPad1dBackward, at::reflection_pad1d_backward)
PAD_BACKWARD(aclnnReflectionPad2dBackward, at::reflection_pad2d_backward)
PAD_BACKWARD(aclnnReplicationPad1dBackward, at::replication_pad1d_backward)
PAD_BACKWARD(aclnnReplicationPad2dBackward, at::replication_pad2d_backward)
