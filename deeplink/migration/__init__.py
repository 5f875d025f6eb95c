"""Zero-line migration of CUDA programs: CUDA compatibility mode (mode.py, the pieces it installs:
devices.py, tensors.py, cuda_namespace.py, amp.py, distributed.py, refusals.py) and `deeplink run`
(launch.py). The public switch is deeplink.cuda_compat; docs/migration.md is the user's guide."""
