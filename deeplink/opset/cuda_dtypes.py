"""The dtypes CUDA supports, per aten op packet, from OpInfo's `dtypesIfCUDA`.

OpInfo entries describe Python functions (`torch.add`, `nn.functional.silu`), not aten overloads,
and list the *input* dtypes their CUDA tests run. So the match is by op packet and says where it
came from; several OpInfos naming one packet (`max` has reduction and binary variants) are united.
In order of preference:

    direct     an OpInfo for the packet itself          add       <- add           "opinfo:add"
    in-place   the out-of-place packet's OpInfo         add_      <- add           "opinfo:add (out-of-place op)"
    backward   the forward OpInfo's backward dtypes     silu_backward <- silu      "opinfo-backward:nn.functional.silu"
    internal   the public op an internal one serves     _log_softmax, nll_loss_forward <- log_softmax, nll_loss
                                                                                   "opinfo:log_softmax (public op)"

The derived rules (backward, internal) skip OpInfo variants that cast their input first:
`log_softmax[with_dtype]` accepts int inputs because it casts them before calling `_log_softmax`,
which itself never sees an int. Anything else stays "unknown" (e.g. the SDPA kernels: the composite's OpInfo dtypes say nothing
about which of them the cuDNN or efficient kernel accepts).
"""
from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = "unknown"

_BACKWARD_SUFFIXES = ("_dense_backward", "_backward_data", "_backward")
# OpInfo variants whose input dtype is cast (via a `dtype=` argument) before the internal op runs
_CASTING_VARIANTS = ("with_dtype",)


@dataclass(frozen=True)
class DtypeInfo:
    dtypes: tuple[str, ...]       # "bfloat16", "float16", "float32", ...
    source: str                   # "opinfo:add", "opinfo-backward:nn.functional.silu", ...


def _candidate_bases(opinfo: dict) -> list[str]:
    """aten packet names an OpInfo may stand for, best guess first."""
    out = []
    for name in (opinfo.get("aten_name") or "", opinfo["name"]):
        if name.startswith("torch.ops.aten."):              # torch.ops.aten._safe_softmax.default
            out.append(name.split(".")[3])
            continue
        out.append(name)
        if name.startswith("nn.functional."):
            out.append(name[len("nn.functional."):])        # nn.functional.silu -> silu
        for ns in ("linalg.", "special.", "fft."):
            if name.startswith(ns):
                out.append(name.replace(".", "_", 1))        # special.erfcx -> special_erfcx
    return out


def _label(opinfo: dict) -> str:
    variant = opinfo.get("variant") or ""
    return f"{opinfo['name']}[{variant}]" if variant else opinfo["name"]


def _by_packet(opinfos: list[dict], packets: set[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for opinfo in opinfos:
        base = next((b for b in _candidate_bases(opinfo) if b in packets), None)
        if base is not None:
            found.setdefault(base, []).append(opinfo)
    return found


def _info(opinfos: list[dict], field: str, prefix: str, suffix: str = "", *,
          derived: bool = False) -> DtypeInfo | None:
    """United dtypes of `opinfos`. For a derived rule, skip the variants that cast the input."""
    if derived:
        opinfos = [o for o in opinfos if o.get("variant") not in _CASTING_VARIANTS]
    dtypes = sorted({d for o in opinfos for d in o.get(field, ())})
    if not dtypes:
        return None
    return DtypeInfo(tuple(dtypes), prefix + "+".join(sorted({_label(o) for o in opinfos})) + suffix)


def _forward_of(packet: str) -> str | None:
    for suffix in _BACKWARD_SUFFIXES:
        if packet.endswith(suffix):
            return packet[:-len(suffix)]
    return None


def _public_of(packet: str) -> list[str]:
    out = []
    if packet.endswith("_forward"):
        out.append(packet[:-len("_forward")])
    if packet.startswith("_") and not packet.startswith("__"):
        out.append(packet.lstrip("_"))
    return out


def cuda_dtypes_by_packet(opinfos: list[dict], aten_packets: set[str]) -> dict[str, DtypeInfo]:
    """aten packet name -> the dtypes OpInfo says CUDA supports for it (only packets it knows)."""
    direct = _by_packet(opinfos, aten_packets)
    result: dict[str, DtypeInfo] = {}
    for packet in sorted(aten_packets):
        info = None
        if packet in direct:
            info = _info(direct[packet], "dtypes", "opinfo:")
        elif packet.endswith("_") and not packet.endswith("__") and packet[:-1] in direct:
            info = _info(direct[packet[:-1]], "dtypes", "opinfo:", " (out-of-place op)")
        elif (forward := _forward_of(packet)) is not None:
            for fwd in [forward] + _public_of(forward):
                if fwd in direct:
                    info = _info(direct[fwd], "backward_dtypes", "opinfo-backward:", derived=True)
                    break
        else:
            for public in _public_of(packet):
                if public in direct:
                    info = _info(direct[public], "dtypes", "opinfo:", " (public op)", derived=True)
                    break
        if info is not None:
            result[packet] = info
    return result
