// aclnnFlashAttentionScore / aclnnFlashAttentionScoreGrad of the emulator, following the formula
// and argument conventions of the CANN operator reference:
//   attention_out = Dropout(Softmax(Mask(scale * (pse + query @ key^T), atten_mask)), keep_prob) @ value
// softmaxMaxOut / softmaxSumOut are [B, N, Sq, 8] float32 (the row max and the row sum of
// exp(s - max), repeated over the last axis); the backward recomputes the probabilities from
// them as exp(s - max) / sum. Modelled: layouts BNSD, BSND, BSH, SBH; grouped KV heads;
// sparseMode 0 (optional explicit mask, 1 = masked out), 1 (all mask), 2 (left-up causal) and
// 3 (right-down causal), the causal modes taking the documented 2048x2048 compressed mask;
// realShift (pse). Not modelled (rejected with 161002): dropout (keepProb < 1), paddingMask,
// prefix, band and varlen modes.
#include "emu_aten.h"

using namespace ascend_emu;

namespace {

struct Geometry {
  std::string layout;
  int64_t B = 0, N1 = 0, N2 = 0, S1 = 0, S2 = 0, D = 0;
};

// Converts a q/k/v-shaped tensor from `layout` to [B, N, S, D].
at::Tensor to_bnsd(const at::Tensor& t, const std::string& layout, int64_t heads) {
  if (layout == "BNSD") return t;
  if (layout == "BSND") return t.permute({0, 2, 1, 3});
  if (layout == "BSH") return t.reshape({t.size(0), t.size(1), heads, t.size(2) / heads}).permute({0, 2, 1, 3});
  /* SBH */ return t.reshape({t.size(0), t.size(1), heads, t.size(2) / heads}).permute({1, 2, 0, 3});
}

at::Tensor from_bnsd(const at::Tensor& t, const std::string& layout) {
  if (layout == "BNSD") return t;
  if (layout == "BSND") return t.permute({0, 2, 1, 3});
  at::Tensor bsnd = t.permute({0, 2, 1, 3});
  if (layout == "BSH") return bsnd.reshape({t.size(0), t.size(2), t.size(1) * t.size(3)});
  /* SBH */ return t.permute({2, 0, 1, 3}).reshape({t.size(2), t.size(0), t.size(1) * t.size(3)});
}

Geometry geometry(const TensorDesc& q, const TensorDesc& k, int64_t headNum, const std::string& layout) {
  Geometry g;
  g.layout = layout;
  require(layout == "BNSD" || layout == "BSND" || layout == "BSH" || layout == "SBH",
          "inputLayout \"" + layout + "\" is not one of BNSD, BSND, BSH, SBH");
  require(headNum > 0, "headNum must be positive");
  size_t rank = (layout == "BSH" || layout == "SBH") ? 3 : 4;
  require(q.dims.size() == rank && k.dims.size() == rank,
          "query/key rank does not match inputLayout " + layout + ": query " + shape_of(q.dims));
  if (layout == "BNSD") {
    g.B = q.dims[0]; g.N1 = q.dims[1]; g.S1 = q.dims[2]; g.D = q.dims[3]; g.N2 = k.dims[1]; g.S2 = k.dims[2];
  } else if (layout == "BSND") {
    g.B = q.dims[0]; g.S1 = q.dims[1]; g.N1 = q.dims[2]; g.D = q.dims[3]; g.S2 = k.dims[1]; g.N2 = k.dims[2];
  } else if (layout == "BSH") {
    g.B = q.dims[0]; g.S1 = q.dims[1]; g.N1 = headNum; g.D = q.dims[2] / headNum; g.S2 = k.dims[1]; g.N2 = k.dims[2] / g.D;
  } else {
    g.S1 = q.dims[0]; g.B = q.dims[1]; g.N1 = headNum; g.D = q.dims[2] / headNum; g.S2 = k.dims[0]; g.N2 = k.dims[2] / g.D;
  }
  require(g.N1 == headNum, "headNum " + std::to_string(headNum) + " does not match the query's " + std::to_string(g.N1) + " heads");
  require(g.N2 > 0 && g.N1 % g.N2 == 0, "query heads must be a multiple of key/value heads");
  return g;
}

// Boolean [*, S1, S2] tensor, true where attention is masked out.
at::Tensor mask_for(int64_t sparseMode, const at::Tensor& attenMask, const Geometry& g, bool meta) {
  auto opts = at::TensorOptions().dtype(at::kBool).device(meta ? at::kMeta : at::kCPU);
  if (sparseMode == 2 || sparseMode == 3) {
    require(attenMask.defined() && attenMask.dim() == 2 && attenMask.size(0) == 2048 && attenMask.size(1) == 2048,
            "sparseMode " + std::to_string(sparseMode) + " needs the 2048x2048 compressed causal attenMask");
    int64_t shift = sparseMode == 2 ? 0 : g.S2 - g.S1;  // right-down aligns the diagonal to the last key
    return at::ones({g.S1, g.S2}, opts).triu(shift + 1);
  }
  if (!attenMask.defined()) return at::Tensor();
  require(attenMask.size(-1) == g.S2 && attenMask.size(-2) == g.S1,
          "attenMask must end in [Sq, Skv] = [" + std::to_string(g.S1) + ", " + std::to_string(g.S2) + "]");
  return attenMask.to(at::kBool);
}

at::Tensor expand_heads(const at::Tensor& t, int64_t groups) {
  return groups == 1 ? t : t.repeat_interleave(groups, 1);
}

at::Tensor sum_heads(const at::Tensor& t, int64_t groups) {
  if (groups == 1) return t;
  return t.reshape({t.size(0), t.size(1) / groups, groups, t.size(2), t.size(3)}).sum(2);
}

// Scores s = scale * (pse + q k^T) with masked positions pushed to a large negative value.
at::Tensor scores(const at::Tensor& q, const at::Tensor& k, const at::Tensor& pse, const at::Tensor& mask, double scale) {
  at::Tensor s = at::matmul(q, k.transpose(-2, -1));
  if (pse.defined()) s = s + f32(pse);
  s = s * scale;
  if (mask.defined()) s = s.masked_fill(mask, -1e30);
  return s;
}

void check_common(const TensorDesc& q, const TensorDesc& k, const TensorDesc& v, double keepProb,
                  const TensorDesc& dropMask, const TensorDesc& paddingMask, const std::vector<int64_t>& prefix,
                  int64_t sparseMode, int64_t innerPrecise) {
  require_dtype("query", q, kFloats);
  require(q.dtype == k.dtype && q.dtype == v.dtype, "query, key and value must share one dtype");
  require(keepProb == 1.0, "keepProb < 1 (dropout inside attention) is not modelled by the emulator");
  require(!present(dropMask) && !present(paddingMask), "dropMask/paddingMask are not modelled by the emulator");
  require(prefix.empty(), "prefix is not modelled by the emulator");
  require(sparseMode >= 0 && sparseMode <= 3, "sparseMode " + std::to_string(sparseMode) + " is not modelled by the emulator");
  require(innerPrecise >= 0 && innerPrecise <= 2, "innerPrecise must be 0, 1 or 2");
}

}  // namespace

ACLNN_OP(aclnnFlashAttentionScore,
         (const aclTensor* query, const aclTensor* key, const aclTensor* value, const aclTensor* realShiftOptional,
          const aclTensor* dropMaskOptional, const aclTensor* paddingMaskOptional, const aclTensor* attenMaskOptional,
          const aclIntArray* prefixOptional, double scaleValue, double keepProb, int64_t preTokens, int64_t nextTokens,
          int64_t headNum, char* inputLayout, int64_t innerPrecise, int64_t sparseMode, const aclTensor* softmaxMaxOut,
          const aclTensor* softmaxSumOut, const aclTensor* softmaxOutOut, const aclTensor* attentionOutOut), {
  TensorDesc q = tensor_arg(query, "query"), k = tensor_arg(key, "key"), v = tensor_arg(value, "value");
  TensorDesc pse = tensor_arg(realShiftOptional, "realShiftOptional", true);
  TensorDesc dm = tensor_arg(dropMaskOptional, "dropMaskOptional", true);
  TensorDesc pm = tensor_arg(paddingMaskOptional, "paddingMaskOptional", true);
  TensorDesc am = tensor_arg(attenMaskOptional, "attenMaskOptional", true);
  std::vector<int64_t> prefix = int_array_arg(prefixOptional, "prefixOptional", true);
  TensorDesc mx = tensor_arg(softmaxMaxOut, "softmaxMaxOut"), sm = tensor_arg(softmaxSumOut, "softmaxSumOut");
  TensorDesc so = tensor_arg(softmaxOutOut, "softmaxOutOut", true), out = tensor_arg(attentionOutOut, "attentionOutOut");
  require(inputLayout != nullptr, "inputLayout is null");
  std::string layout(inputLayout);
  check_common(q, k, v, keepProb, dm, pm, prefix, sparseMode, innerPrecise);
  require_dtype("softmaxMaxOut", mx, {ACL_FLOAT});
  require_dtype("softmaxSumOut", sm, {ACL_FLOAT});
  Geometry g = geometry(q, k, headNum, layout);
  (void)preTokens;
  (void)nextTokens;
  return plan({&q, &k, &v, &pse, &am, &mx, &sm, &so, &out}, [=](bool meta) {
    int64_t groups = g.N1 / g.N2;
    at::Tensor qf = f32(to_bnsd(view(q, meta), layout, g.N1));
    at::Tensor kf = expand_heads(f32(to_bnsd(view(k, meta), layout, g.N2)), groups);
    at::Tensor vf = expand_heads(f32(to_bnsd(view(v, meta), layout, g.N2)), groups);
    at::Tensor mask = mask_for(sparseMode, view(am, meta), g, meta);
    at::Tensor s = scores(qf, kf, view(pse, meta), mask, scaleValue);
    at::Tensor rmax = s.amax(-1, true);
    at::Tensor p = (s - rmax).exp();
    at::Tensor rsum = p.sum(-1, true);
    at::Tensor o = at::matmul(p / rsum, vf);
    emit("softmaxMaxOut", view(mx, meta), rmax.expand({g.B, g.N1, g.S1, 8}));
    emit("softmaxSumOut", view(sm, meta), rsum.expand({g.B, g.N1, g.S1, 8}));
    emit("attentionOutOut", view(out, meta), from_bnsd(o, layout));
  }, 65536);
})

ACLNN_OP(aclnnFlashAttentionScoreGrad,
         (const aclTensor* query, const aclTensor* keyIn, const aclTensor* value, const aclTensor* dy,
          const aclTensor* pseShiftOptional, const aclTensor* dropMaskOptional, const aclTensor* paddingMaskOptional,
          const aclTensor* attenMaskOptional, const aclTensor* softmaxMaxOptional, const aclTensor* softmaxSumOptional,
          const aclTensor* softmaxInOptional, const aclTensor* attentionInOptional, const aclIntArray* prefixOptional,
          double scaleValue, double keepProb, int64_t preTokens, int64_t nextTokens, int64_t headNum, char* inputLayout,
          int64_t innerPrecise, int64_t sparseMode, const aclTensor* dqOut, const aclTensor* dkOut, const aclTensor* dvOut,
          const aclTensor* dpseOut), {
  TensorDesc q = tensor_arg(query, "query"), k = tensor_arg(keyIn, "keyIn"), v = tensor_arg(value, "value");
  TensorDesc dO = tensor_arg(dy, "dy");
  TensorDesc pse = tensor_arg(pseShiftOptional, "pseShiftOptional", true);
  TensorDesc dm = tensor_arg(dropMaskOptional, "dropMaskOptional", true);
  TensorDesc pm = tensor_arg(paddingMaskOptional, "paddingMaskOptional", true);
  TensorDesc am = tensor_arg(attenMaskOptional, "attenMaskOptional", true);
  TensorDesc mx = tensor_arg(softmaxMaxOptional, "softmaxMaxOptional", true);
  TensorDesc sm = tensor_arg(softmaxSumOptional, "softmaxSumOptional", true);
  TensorDesc ai = tensor_arg(attentionInOptional, "attentionInOptional", true);
  std::vector<int64_t> prefix = int_array_arg(prefixOptional, "prefixOptional", true);
  TensorDesc dq = tensor_arg(dqOut, "dqOut"), dk = tensor_arg(dkOut, "dkOut"), dv = tensor_arg(dvOut, "dvOut");
  TensorDesc dp = tensor_arg(dpseOut, "dpseOut", true);
  (void)softmaxInOptional;
  require(inputLayout != nullptr, "inputLayout is null");
  std::string layout(inputLayout);
  check_common(q, k, v, keepProb, dm, pm, prefix, sparseMode, innerPrecise);
  require(present(mx) && present(sm) && present(ai),
          "softmaxMaxOptional, softmaxSumOptional and attentionInOptional are required (the emulator recomputes "
          "probabilities from the forward statistics)");
  Geometry g = geometry(q, k, headNum, layout);
  (void)preTokens;
  (void)nextTokens;
  return plan({&q, &k, &v, &dO, &pse, &am, &mx, &sm, &ai, &dq, &dk, &dv, &dp}, [=](bool meta) {
    int64_t groups = g.N1 / g.N2;
    at::Tensor qf = f32(to_bnsd(view(q, meta), layout, g.N1));
    at::Tensor kf = expand_heads(f32(to_bnsd(view(k, meta), layout, g.N2)), groups);
    at::Tensor vf = expand_heads(f32(to_bnsd(view(v, meta), layout, g.N2)), groups);
    at::Tensor go = f32(to_bnsd(view(dO, meta), layout, g.N1));
    at::Tensor o = f32(to_bnsd(view(ai, meta), layout, g.N1));
    at::Tensor psev = view(pse, meta);
    at::Tensor mask = mask_for(sparseMode, view(am, meta), g, meta);
    at::Tensor s = scores(qf, kf, psev, mask, scaleValue);
    at::Tensor rmax = view(mx, meta).narrow(-1, 0, 1);
    at::Tensor rsum = view(sm, meta).narrow(-1, 0, 1);
    at::Tensor p = (s - rmax).exp() / rsum;
    at::Tensor dvf = at::matmul(p.transpose(-2, -1), go);
    at::Tensor dpr = at::matmul(go, vf.transpose(-2, -1));
    at::Tensor delta = (go * o).sum(-1, true);
    at::Tensor ds = p * (dpr - delta) * scaleValue;  // gradient w.r.t. (pse + q k^T)
    at::Tensor dqf = at::matmul(ds, kf);
    at::Tensor dkf = at::matmul(ds.transpose(-2, -1), qf);
    emit("dqOut", view(dq, meta), from_bnsd(dqf, layout));
    emit("dkOut", view(dk, meta), from_bnsd(sum_heads(dkf, groups), layout));
    emit("dvOut", view(dv, meta), from_bnsd(sum_heads(dvf, groups), layout));
    if (present(pse) && present(dp) && dp.numel() > 0) {
      at::Tensor dpv = view(dp, meta);
      at::Tensor red = ds;
      for (int64_t d = 0; d < red.dim(); ++d)
        if (dpv.size(d) == 1 && red.size(d) != 1) red = red.sum(d, true);
      emit("dpseOut", dpv, red);
    }
  }, 131072);
})
