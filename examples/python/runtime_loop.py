#!/usr/bin/env python3
"""dynn from Python through the C ABI (ctypes, standard library only).

Loads a supernet checkpoint (--checkpoint) or creates a random one, puts it under a runtime manager
on the simulated Jetson Xavier NX, and runs a managed inference loop: the supernet computes real
logits on this CPU, the simulator times each inference as the Xavier NX GPU would (virtual time),
and a controller written in Python (or a built-in one, --controller pareto) picks the sub-network
each step to meet a latency target. Half way through, another application takes a share of the
GPU; the controller steps down and back up. Prints the telemetry summary.

    DYNN_C_LIBRARY=build/capi/libdynn_c.so DYNN_SHARED_DIR=../shared python3 examples/python/runtime_loop.py

Without the shared data (Dynamic-OFA levels and latency tables) it uses four uniform sub-networks.
"""
import argparse
import ctypes
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dynn_ctypes as dynn  # noqa: E402


class LevelWalker:
    """Steps down a level when the last inference missed the target; up when the next level's
    profiled latency, scaled by measured/profiled of the level that ran, fits under the target."""

    def bind(self, points, knobs):
        self.lat = [p.latency_ms for p in points]
        self.level = len(points) - 1

    def decide(self, obs, points):
        if not math.isnan(obs.last_latency_ms) and obs.target_latency_ms > 0:
            scale = obs.last_latency_ms / self.lat[obs.last_point]
            if obs.last_latency_ms > obs.target_latency_ms and self.level > 0:
                self.level -= 1
            elif self.level + 1 < len(self.lat) and self.lat[self.level + 1] * scale < 0.97 * obs.target_latency_ms:
                self.level += 1
        return self.level


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="path of libdynn_c.so (default: $DYNN_C_LIBRARY)")
    ap.add_argument("--checkpoint", help="OFA MobileNetV3 checkpoint (default: a random w1.0 supernet)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--target-ms", type=float, default=60.0)
    ap.add_argument("--controller", default="python", help="'python' (the LevelWalker above) or a built-in name")
    ap.add_argument("--out", help="folder for telemetry.csv / .json / .svg")
    args = ap.parse_args()

    dynn.load(args.lib)
    print(f"dynn {dynn.version()} via ctypes; controllers: {', '.join(dynn.Controller.names())}")
    shared = os.environ.get("DYNN_SHARED_DIR", "")
    dofa = os.path.join(shared, "data", "dynamic_ofa")

    if os.path.isdir(dofa):
        platform = dynn.Platform.simulated("xavier-nx", os.path.join(dofa, "latency_lut_jetson_xavier_nx_cpu"),
                                           os.path.join(dofa, "latency_lut_jetson_xavier_nx_gpu"))
        profile = dynn.Profile.load_levels(os.path.join(dofa, "nets_6_levels.json"), "gpu")
    else:
        print("(no shared data: four uniform sub-networks instead of the Dynamic-OFA levels)")
        platform = dynn.Platform.simulated("xavier-nx")
        profile = dynn.Profile.create()
        for i, (k, e, d, r, ms, acc) in enumerate([(3, 3, 2, 160, 30, .70), (5, 4, 2, 176, 40, .73),
                                                   (5, 4, 3, 192, 50, .76), (7, 6, 4, 208, 62, .79)]):
            profile.add(f"T{i}", dynn.uniform_subnet(k, e, d, r), ms, acc, device="gpu", level=i)
    print(f"platform '{platform.name}': {len(platform.knobs())} knobs, {len(platform.sensors())} sensors; "
          f"{len(profile)} operating points, Pareto front {profile.pareto_front()}")

    net = dynn.Supernet.load(args.checkpoint) if args.checkpoint else dynn.Supernet.random(1.0, seed=1)
    info = net.info()
    print(f"supernet: w{info.width_mult}, {info.parameter_count / 1e6:.1f} M parameters")

    # The supernet on its own: its own thread count, one inference of another sub-network without
    # switching (the current one stays), and a refused input size.
    net.set_threads(1)
    small = dynn.uniform_subnet(3, 3, 2, 128)
    image = (ctypes.c_float * (3 * 128 * 128))()
    logits = net.infer(image, 1, 128, subnet=small)
    print(f"direct: {len(logits)} logits from {small.r}x{small.r} on {net.device()} with {net.threads()} thread(s)")
    try:
        net.infer(image, 1, 128)  # the current sub-network runs at another resolution
        raise SystemExit("failed: an input of the wrong size was accepted")
    except dynn.DynnError as e:
        print(f"direct: wrong input size refused ({e.status})")

    if args.controller == "python":
        controller = dynn.Controller.custom(LevelWalker(), "level-walker")
    else:
        controller = dynn.Controller.builtin(args.controller)
    manager = dynn.Manager(platform, profile, controller, supernet=net, target_latency_ms=args.target_ms)

    # A co-runner takes 30 % of the GPU for the middle third of the run (virtual time).
    period = args.steps * 0.05
    platform.add_interference(gpu=True, start_s=platform.now() + period / 3, duration_s=period / 3, share=0.3)
    for step in range(args.steps):
        res = manager.infer()
        logits = manager.logits()
        top = max(range(1000), key=lambda i: logits[i])
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step:3d}  t={platform.now():6.2f} s  point {manager.point_id(res.point):>3}  "
                  f"{res.latency_ms:6.1f} ms  {'met ' if res.met else 'MISS'}  energy {res.energy_mj:6.1f} mJ  top-1 class {top}")

    s = manager.summary()
    print("telemetry:", manager.summary_string())
    print(f"summary: {s.count} steps, {100 * s.within_target:.0f} % within {args.target_ms} ms, {s.switches} switches, "
          f"mean accuracy {s.mean_accuracy:.4f}, p99 {s.p99_latency_ms:.1f} ms, mean energy {s.mean_energy_mj:.1f} mJ")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for ext, fmt in (("csv", dynn.TELEMETRY_CSV), ("json", dynn.TELEMETRY_JSON), ("svg", dynn.TELEMETRY_SVG)):
            manager.write_telemetry(os.path.join(args.out, f"telemetry.{ext}"), fmt)
        print(f"telemetry written to {args.out}/telemetry.{{csv,json,svg}}")
    # A target under every point: the manager's search builds smaller sub-networks, prepares them and
    # adds them as points (here the simulator alone times them: no supernet).
    below = 0.6 * min(profile.point(i).latency_ms for i in range(len(profile)))
    low = dynn.Manager(platform, profile, dynn.Controller.builtin("pareto"), target_latency_ms=below)
    low.set_search(True, max_subnets=4)
    met_late = sum(1 for step in range(150) if low.infer().met and step >= 100)
    st = low.search_status()
    print(f"search below the points ({below:.1f} ms): {st.searches} search(es), {st.subnets_added} sub-network(s) added as "
          f"{st.points_added} points ({low.num_points()} now); {met_late} of the last 50 steps on target")
    low.close()
    if st.subnets_added < 1 or met_late < 45:
        print("the search did not get back on target", file=sys.stderr)
        return 1
    # Errors come back as exceptions carrying dynn's message.
    try:
        manager.set_targets(latency_ms=-1)
    except dynn.DynnError as e:
        print(f"refused as expected: {e.message}")
    manager.close()
    if s.count != args.steps or s.within_target < 0.5:
        print("unexpected telemetry", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
