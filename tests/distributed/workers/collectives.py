"""Every c10d collective on deeplink tensors, for every dtype the backend holds, contiguous or not,
checked against values computed here on the CPU. Writes rank<R>.json: cases run, failures (case
and what differed), dtypes skipped (with why), and the collective paths counted."""
from __future__ import annotations

import sys
import threading
import traceback

import common
import torch
import torch.distributed as dist

RO = dist.ReduceOp
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
          torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64, torch.uint16, torch.uint32, torch.uint64,
          torch.bool, torch.float8_e4m3fn, torch.float8_e5m2]
LAYOUTS = ["contiguous", "transposed", "offset", "strided"]
SHAPE = (3, 4)
UNREDUCIBLE = {torch.uint64}  # no library here reduces it and it has no wider type (moved fine)


def values(kind: str, rank: int, dtype, shape=SHAPE):
    """Small integers (exact in every dtype here) that differ per rank."""
    a = torch.arange(int(torch.tensor(shape).prod()), dtype=torch.int64).reshape(shape)
    v = {"sum": a % 5 + rank, "prod": (a + rank) % 2 + 1, "minmax": (a * 3 + rank * 7) % 11}[kind]
    return cast(v, dtype)


def cast(v, dtype):
    if dtype == torch.bool:
        return v % 2 == 1
    if dtype.is_floating_point or dtype.is_complex:
        return v.to(torch.float64).to(dtype)
    return v.to(dtype)


def reduce_ref(vals, op, dtype, n):
    if dtype == torch.bool:
        s = torch.stack(vals)
        return s.any(0) if op in (RO.SUM, RO.MAX) else s.all(0)
    wide = torch.complex128 if dtype.is_complex else torch.float64 if dtype.is_floating_point else torch.int64
    s = torch.stack([v.to(wide) for v in vals])
    if op == RO.SUM:
        r = s.sum(0)
    elif op == RO.AVG:
        r = s.sum(0) / n if wide != torch.int64 else torch.div(s.sum(0), n, rounding_mode="trunc")
    elif op == RO.PRODUCT:
        r = s.prod(0)
    elif op == RO.MAX:
        r = s.max(0).values
    else:
        r = s.min(0).values
    return r.to(dtype)


def on_device(v, layout):
    """A deeplink tensor holding v, laid out as asked."""
    if layout == "contiguous":
        return v.to("deeplink")
    if layout == "transposed":
        return v.t().contiguous().to("deeplink").t()
    if layout == "offset":
        base = torch.zeros(v.numel() + 5, dtype=v.dtype).to("deeplink")
        t = base[5:].view(v.shape)
        t.copy_(v.to("deeplink"))
        return t
    base = torch.zeros(v.shape[0], v.shape[1] * 2, dtype=v.dtype).to("deeplink")
    t = base[:, ::2]
    t.copy_(v.to("deeplink"))
    return t


def ops_for(dtype):
    if dtype == torch.bool:
        return [RO.SUM, RO.MAX, RO.MIN, RO.PRODUCT]
    if dtype.is_complex:
        return [RO.SUM, RO.AVG]
    return [RO.SUM, RO.AVG, RO.MAX, RO.MIN, RO.PRODUCT]


def kind_of(op):
    return "prod" if op == RO.PRODUCT else "minmax" if op in (RO.MAX, RO.MIN) else "sum"


class Checker:
    def __init__(self, r, n):
        self.r, self.n = r, n
        self.cases = 0
        self.failures = []

    def run(self, name, fn):
        self.cases += 1
        try:
            problem = fn()
        except Exception as e:  # noqa: BLE001  recorded, the other cases still run
            problem = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        if problem:
            self.failures.append({"case": name, "problem": str(problem)[:2000]})
            print(f"rank {self.r}: FAILED {name}: {str(problem)[:400]}", file=sys.stderr, flush=True)

    @staticmethod
    def same(got, want):
        if got.device.type != "deeplink":
            return f"result on {got.device}, expected a deeplink tensor"
        got = got.cpu()
        if got.dtype != want.dtype or got.shape != want.shape:
            return f"got {got.dtype}{tuple(got.shape)}, expected {want.dtype}{tuple(want.shape)}"
        if not torch.equal(got.view(torch.uint8) if got.dtype.itemsize == 1 and got.dtype.is_floating_point else got,
                           want.view(torch.uint8) if want.dtype.itemsize == 1 and want.dtype.is_floating_point
                           else want):
            return f"got {got.tolist() if got.dtype.itemsize > 1 or not got.dtype.is_floating_point else got}, " \
                   f"expected {want.tolist() if want.dtype.itemsize > 1 or not want.dtype.is_floating_point else want}"
        return None


def dtype_works(dtype) -> str | None:
    """Why the backend cannot hold `dtype` well enough for collectives to be tested on it, or None."""
    try:
        t = values("sum", 0, dtype).to("deeplink")
        back = t.cpu()
        if not torch.equal(back.view(torch.uint8), values("sum", 0, dtype).view(torch.uint8)):
            return "round trip changed the values"
        torch.zeros(2, dtype=dtype, device="deeplink")
        if dtype.is_complex:
            # torch.distributed sends complex tensors as torch.view_as_real(t): that must be a view
            real = torch.view_as_real(t)
            real.fill_(0)
            if t.cpu().abs().sum() != 0:
                return "view_as_real is not a view on this backend (it runs as a CPU fallback, on a copy)"
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"
    return None


def reductions(c: Checker, dtype, layout):
    r, n = c.r, c.n
    for op in ops_for(dtype):
        def all_reduce(op=op):
            t = on_device(values(kind_of(op), r, dtype), layout)
            dist.all_reduce(t, op=op)
            return c.same(t, reduce_ref([values(kind_of(op), k, dtype) for k in range(n)], op, dtype, n))
        c.run(f"all_reduce {op} {dtype} {layout}", all_reduce)

    def reduce():
        t = on_device(values("sum", r, dtype), layout)
        dist.reduce(t, dst=0, op=RO.SUM)
        want = reduce_ref([values("sum", k, dtype) for k in range(n)], RO.SUM, dtype, n) if r == 0 \
            else values("sum", r, dtype)
        return c.same(t, want)
    c.run(f"reduce {dtype} {layout}", reduce)

    def reduce_scatter_tensor():
        inp = on_device(values("sum", r, dtype, (n * 2, 3)), layout if layout != "offset" else "contiguous")
        out = torch.empty((2, 3), dtype=dtype, device="deeplink")
        dist.reduce_scatter_tensor(out, inp, op=RO.SUM)
        full = reduce_ref([values("sum", k, dtype, (n * 2, 3)) for k in range(n)], RO.SUM, dtype, n)
        return c.same(out, full[r * 2:(r + 1) * 2])
    c.run(f"reduce_scatter_tensor {dtype} {layout}", reduce_scatter_tensor)

    def reduce_scatter_list():
        ins = [on_device(values("sum", r * n + k, dtype), layout) for k in range(n)]
        out = on_device(torch.zeros(SHAPE, dtype=dtype), layout)
        dist.reduce_scatter(out, ins, op=RO.SUM)
        return c.same(out, reduce_ref([values("sum", k * n + r, dtype) for k in range(n)], RO.SUM, dtype, n))
    c.run(f"reduce_scatter {dtype} {layout}", reduce_scatter_list)


def movement(c: Checker, dtype, layout):
    r, n = c.r, c.n
    mine = values("sum", r, dtype)
    everyone = [values("sum", k, dtype) for k in range(n)]

    def broadcast():
        t = on_device(mine, layout)
        dist.broadcast(t, src=n - 1)
        return c.same(t, everyone[n - 1])
    c.run(f"broadcast {dtype} {layout}", broadcast)

    def all_gather():
        outs = [on_device(torch.zeros(SHAPE, dtype=dtype), layout) for _ in range(n)]
        dist.all_gather(outs, on_device(mine, layout))
        return next((f"from rank {k}: {p}" for k, (o, w) in enumerate(zip(outs, everyone)) if (p := c.same(o, w))),
                    None)
    c.run(f"all_gather {dtype} {layout}", all_gather)

    def all_gather_into_tensor():
        out = torch.empty((n * SHAPE[0], SHAPE[1]), dtype=dtype, device="deeplink")
        dist.all_gather_into_tensor(out, on_device(mine, layout))
        return c.same(out, torch.cat(everyone))
    c.run(f"all_gather_into_tensor {dtype} {layout}", all_gather_into_tensor)

    def all_to_all_single_even():
        inp = on_device(values("sum", r, dtype, (n * 2, 3)), layout if layout != "offset" else "contiguous")
        out = torch.empty((n * 2, 3), dtype=dtype, device="deeplink")
        dist.all_to_all_single(out, inp)
        return c.same(out, torch.cat([values("sum", k, dtype, (n * 2, 3))[r * 2:(r + 1) * 2] for k in range(n)]))
    c.run(f"all_to_all_single {dtype} {layout}", all_to_all_single_even)

    def all_to_all_single_uneven():
        # rank k sends j+1 rows to rank j: input rows = sum(1..n), output rows = n * (r+1)
        rows_in = sum(range(1, n + 1))
        inp = on_device(values("sum", r, dtype, (rows_in, 3)), "contiguous")
        out = torch.empty((n * (r + 1), 3), dtype=dtype, device="deeplink")
        dist.all_to_all_single(out, inp, output_split_sizes=[r + 1] * n, input_split_sizes=list(range(1, n + 1)))
        start = sum(range(1, r + 1))
        want = torch.cat([values("sum", k, dtype, (rows_in, 3))[start:start + r + 1] for k in range(n)])
        return c.same(out, want)
    c.run(f"all_to_all_single uneven {dtype}", all_to_all_single_uneven)

    def all_to_all():
        ins = [on_device(values("sum", r * n + k, dtype), layout) for k in range(n)]
        outs = [on_device(torch.zeros(SHAPE, dtype=dtype), layout) for _ in range(n)]
        dist.all_to_all(outs, ins)
        return next((p for k, o in enumerate(outs) if (p := c.same(o, values("sum", k * n + r, dtype)))), None)
    c.run(f"all_to_all {dtype} {layout}", all_to_all)

    def gather():
        outs = [on_device(torch.zeros(SHAPE, dtype=dtype), layout) for _ in range(n)] if r == 0 else None
        dist.gather(on_device(mine, layout), outs, dst=0)
        return next((p for o, w in zip(outs, everyone) if (p := c.same(o, w))), None) if r == 0 else None
    c.run(f"gather {dtype} {layout}", gather)

    def scatter():
        ins = [on_device(values("sum", 10 + k, dtype), layout) for k in range(n)] if r == 0 else None
        out = on_device(torch.zeros(SHAPE, dtype=dtype), layout)
        dist.scatter(out, ins, src=0)
        return c.same(out, values("sum", 10 + r, dtype))
    c.run(f"scatter {dtype} {layout}", scatter)

    def send_recv_ring():
        nxt, prv = (r + 1) % n, (r - 1) % n
        got = on_device(torch.zeros(SHAPE, dtype=dtype), layout)
        if r % 2 == 0:
            dist.send(on_device(mine, layout), nxt)
            dist.recv(got, prv)
        else:
            dist.recv(got, prv)
            dist.send(on_device(mine, layout), nxt)
        return c.same(got, everyone[prv])
    c.run(f"send/recv {dtype} {layout}", send_recv_ring)


def async_handles(c: Checker):
    r, n = c.r, c.n

    def all_reduce_async():
        t = torch.full((5,), float(r + 1), device="deeplink")
        work = dist.all_reduce(t, async_op=True)
        work.wait()
        if not work.is_completed() or not work.is_success():
            return "work not completed/successful after wait()"
        res = work.result()
        if len(res) != 1 or res[0].data_ptr() != t.data_ptr() or res[0].device.type != "deeplink":
            return f"result() is not the caller's tensor: {[(x.device, x.data_ptr()) for x in res]}"
        fut_val = work.get_future().wait()
        if fut_val[0].device.type != "deeplink" or fut_val[0].data_ptr() != t.data_ptr():
            return "future value is not the caller's tensor"
        return c.same(t, torch.full((5,), float(n * (n + 1) / 2)))
    c.run("all_reduce async_op", all_reduce_async)

    def noncontiguous_future():
        # the copy-back into a non-contiguous tensor must be visible once the future completes
        t = on_device(values("sum", r, torch.float32), "transposed")
        fut = dist.all_reduce(t, async_op=True).get_future()
        fut.wait()
        return c.same(t, reduce_ref([values("sum", k, torch.float32) for k in range(n)], RO.SUM, torch.float32, n))
    c.run("non-contiguous all_reduce future", noncontiguous_future)

    def many_in_flight():
        ts = [torch.full((64,), float(r + i), device="deeplink") for i in range(8)]
        works = [dist.all_reduce(t, async_op=True) for t in ts]
        for w in works:
            w.wait()
        return next((p for i, t in enumerate(ts)
                     if (p := c.same(t, torch.full((64,), float(sum(k + i for k in range(n))))))), None)
    c.run("8 all_reduce in flight", many_in_flight)

    def broadcast_async():
        t = torch.full((3,), float(r), device="deeplink")
        dist.broadcast(t, src=0, async_op=True).wait()
        return c.same(t, torch.zeros(3))
    c.run("broadcast async_op", broadcast_async)

    def isend_irecv():
        nxt, prv = (r + 1) % n, (r - 1) % n
        got = torch.zeros(4, device="deeplink")
        reqs = [dist.isend(torch.full((4,), float(r), device="deeplink"), nxt), dist.irecv(got, prv)]
        for q in reqs:
            q.wait()
        return c.same(got, torch.full((4,), float(prv)))
    c.run("isend/irecv", isend_irecv)

    def batch_p2p():
        nxt, prv = (r + 1) % n, (r - 1) % n
        got = torch.zeros(4, device="deeplink")
        ops = [dist.P2POp(dist.isend, torch.full((4,), float(r), device="deeplink"), nxt),
               dist.P2POp(dist.irecv, got, prv)]
        for q in dist.batch_isend_irecv(ops):
            q.wait()
        return c.same(got, torch.full((4,), float(prv)))
    c.run("batch_isend_irecv", batch_p2p)

    def p2p_future_and_wait():
        # gloo's send/recv works have no future: a helper thread completes the one deeplink gives,
        # while the caller waits on the same work; a non-contiguous recv adds a copy-back that the
        # helper and the caller race to run (once). Repeated: the races are timing-dependent.
        nxt, prv = (r + 1) % n, (r - 1) % n
        for _ in range(20):
            got = on_device(torch.zeros(SHAPE), "transposed")
            works = [dist.isend(on_device(values("sum", r, torch.float32), "transposed"), nxt), dist.irecv(got, prv)]
            futures = [w.get_future() for w in works]
            for w in works:
                w.wait()
            for f in futures:
                f.wait()
            if problem := c.same(got, values("sum", prv, torch.float32)):
                return problem
        return None
    c.run("isend/irecv get_future() and wait()", p2p_future_and_wait)

    def two_waiters():
        t = on_device(values("sum", r, torch.float32), "transposed")
        work = dist.all_reduce(t, async_op=True)
        other = threading.Thread(target=work.wait, daemon=True)
        other.start()
        work.wait()
        other.join(timeout=60)
        if other.is_alive():
            return "a second thread waiting on the same work never returned"
        return c.same(t, reduce_ref([values("sum", k, torch.float32) for k in range(n)], RO.SUM, torch.float32, n))
    c.run("one work waited on from two threads", two_waiters)

    def barriers():
        dist.barrier()
        dist.barrier(async_op=True).wait()
        return None
    c.run("barrier", barriers)

    def objects():
        got = [None] * n
        dist.all_gather_object(got, {"rank": r})
        return None if got == [{"rank": k} for k in range(n)] else f"all_gather_object gave {got}"
    c.run("all_gather_object", objects)


def main():
    p = common.parser(__doc__)
    p.add_argument("--dtypes", default="", help="comma-separated subset, e.g. float32,int64 (default: all)")
    args = p.parse_args()
    r, n = common.start(args)
    import deeplink
    c = Checker(r, n)
    skipped = {}
    wanted = set(filter(None, args.dtypes.split(",")))
    for dtype in DTYPES:
        if wanted and str(dtype).removeprefix("torch.") not in wanted:
            continue
        why = dtype_works(dtype)
        if why:
            skipped[str(dtype)] = why
            continue
        for layout in LAYOUTS:
            movement(c, dtype, layout)
            if dtype not in UNREDUCIBLE:
                reductions(c, dtype, layout)
        if dtype in UNREDUCIBLE:
            def refused(dtype=dtype):
                try:
                    dist.all_reduce(torch.zeros(3, dtype=dtype, device="deeplink"))
                except TypeError as e:
                    return None if "cannot be reduced" in str(e) else f"unclear error: {e}"
                return "reduction of an unreducible dtype did not raise"
            c.run(f"all_reduce {dtype} refused", refused)
    async_handles(c)
    dist.barrier()
    common.write(args, {"rank": r, "size": n, "cases": c.cases, "failures": c.failures, "skipped_dtypes": skipped,
                        "backend": deeplink.current_backend(), "describe": deeplink.distributed.describe(),
                        "stats": deeplink.distributed.collective_stats(),
                        "fallbacks": deeplink.fallback_stats()})
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
